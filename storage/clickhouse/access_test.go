package clickhouse

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

// TestAccessMap: the access map's view reads each kind of event into the
// right column, for the right user and app, and duplicates change nothing.
func TestAccessMap(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	user := event.Target{ID: "00u-dana", Type: event.TargetUser, Name: "Dana Lee", Email: "dana@acme.example"}
	crm := event.Target{ID: "0oa-crm", Type: event.TargetApp, Name: "CRM"}
	wiki := event.Target{ID: "0oa-wiki", Type: event.TargetApp}
	ev := func(id string, min int, source, rawType, action, outcome, reason string, targets ...event.Target) *event.Event {
		return &event.Event{ID: id, Tenant: "acme", Time: t0.Add(time.Duration(min) * time.Minute), Source: source, RawType: rawType,
			Action: action, Outcome: outcome, Reason: reason, Actor: event.Actor{ID: "00u-admin", Type: "user"}, Targets: targets}
	}
	login := ev("login", 200, "okta", "user.authentication.sso", event.ActionUserLogin, "success", "", crm)
	login.Actor = event.Actor{ID: user.ID, Type: "user", Email: user.Email}
	session := ev("session", 210, "okta", "user.session.start", event.ActionUserLogin, "success", "")
	session.Actor = login.Actor
	failedLogin := ev("denied", 220, "okta", "user.session.start", event.ActionUserLogin, "failure", "")
	failedLogin.Actor = login.Actor
	events := []*event.Event{
		ev("assign", 0, "okta", "application.user_membership.add", event.ActionAppAssign, "success", "", crm, user),
		ev("push", 1, "okta", "application.provision.user.push", event.ActionAppProvision, "success", "", crm, user),
		ev("wiki-create", 2, "entra", "provisioning.create", event.ActionUserCreate, "success", "", user, wiki),
		ev("idp-off", 100, "okta", "user.lifecycle.deactivate", event.ActionUserDeactivate, "success", "", user),
		ev("crm-fail", 101, "okta", "application.provision.user.deactivate", event.ActionAppProvision, "failure", "Invalid credentials", crm, user),
		ev("wiki-off", 130, "entra", "provisioning.disable", event.ActionUserDeactivate, "success", "", user, wiki),
		login, session, failedLogin,
		// The app side's own copy (SCIM request log) is not the identity provider's deactivation.
		ev("scim-off", 140, "scim", "PATCH /Users", event.ActionUserDeactivate, "success", "", event.Target{ID: "app-side-id", Type: event.TargetUser}),
		// A failed deactivation in the identity provider is none.
		ev("idp-fail", 150, "okta", "user.lifecycle.deactivate", event.ActionUserDeactivate, "failure", "", event.Target{ID: "00u-other", Type: event.TargetUser}),
	}
	var rows []Row
	for _, e := range events {
		rows = append(rows, Row{Event: e, Topic: "t"}, Row{Event: e, Topic: "t"}) // each twice
	}
	if err := s.Insert(ctx, rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	ms := func(min int) uint64 { return uint64(t0.Add(time.Duration(min) * time.Minute).UnixMilli()) }
	const never = 18446744073709551615
	want := map[[2]string]accessState{
		{"00u-dana", ""}:         {email: "dana@acme.example", provisioned: never, deprovisioned: ms(100), used: ms(210)},
		{"00u-dana", "CRM"}:      {email: "dana@acme.example", provisioned: ms(0), provisionedLast: ms(1), failed: ms(101), failure: "Invalid credentials", used: ms(200)},
		{"00u-dana", "0oa-wiki"}: {email: "dana@acme.example", provisioned: ms(2), provisionedLast: ms(2), deprovisioned: ms(130)},
	}
	check(t, s, want)
	// An upgrade: the same state from events stored before migration 0007
	// (its back-fill, a partition at a time).
	for _, tb := range []string{"app_access_mv", "app_access", "app_signins_mv", "app_signins"} {
		q := "DROP TABLE " + s.cfg.Database + "." + tb
		if err := s.conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	migs, err := Migrations(s.cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(migs, func(m Migration) bool { return m.Name == "app_access" })
	if !slices.ContainsFunc(migs[i].Statements, func(st Statement) bool { return st.EachPartition }) {
		t.Fatal("0007 has no back-fill a partition at a time")
	}
	if err := s.apply(ctx, migs[i]); err != nil {
		t.Fatal(err)
	}
	check(t, s, want)
}

type accessState struct {
	email                                               string
	provisioned, provisionedLast, deprovisioned, failed uint64
	failure                                             string
	used                                                uint64
}

func check(t *testing.T, s *Store, want map[[2]string]accessState) {
	t.Helper()
	ctx := context.Background()
	got := map[[2]string]accessState{}
	rs, err := s.conn.Query(ctx, `SELECT user_id, app, argMaxMerge(email), minMerge(provisioned), maxMerge(provisioned_last), maxMerge(deprovisioned),
    maxMerge(failed), argMaxMerge(failure) FROM `+s.cfg.Database+`.app_access GROUP BY user_id, app`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var u, a string
		var st accessState
		if err := rs.Scan(&u, &a, &st.email, &st.provisioned, &st.provisionedLast, &st.deprovisioned, &st.failed, &st.failure); err != nil {
			t.Fatal(err)
		}
		got[[2]string{u, a}] = st
	}
	rs.Close()
	if rs, err = s.conn.Query(ctx, `SELECT user_id, app, maxMerge(used) FROM `+s.cfg.Database+`.app_signins GROUP BY user_id, app`); err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var u, a string
		var used uint64
		if err := rs.Scan(&u, &a, &used); err != nil {
			t.Fatal(err)
		}
		st := got[[2]string{u, a}]
		st.used = used
		got[[2]string{u, a}] = st
	}
	rs.Close()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%v: got %+v\nwant %+v", k, got[k], w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected row %v: %+v", k, got[k])
		}
	}
}
