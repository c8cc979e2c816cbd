package okta

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/normtest"
)

const samples = "testdata/okta-systemlog.ndjson"

func TestSamples(t *testing.T) {
	tests := []struct {
		name                    string
		line                    int
		rawType, action         string
		outcome, reason         string
		actorID, actorType      string
		actorEmail, ip          string
		targets                 []string
		id, correlation, tstamp string
	}{
		{
			name: "user privilege grant names the roles from debugData", line: 5,
			rawType: "user.account.privilege.grant", action: event.ActionRoleGrant, outcome: event.OutcomeSuccess,
			actorID: "00uu1uuuuIlllaaaa356", actorType: event.ActorUser, actorEmail: "jack@acme.io", ip: "136.24.229.58",
			targets: []string{"user:00u6eup97mAJZWYmP357:Alice Green", "role::Organization administrator", "role::Application administrator (all)"},
			id:      "2a992f80-d1ad-4f62-900e-8c68bb72a21b", tstamp: "2020-11-25T21:27:03.496Z",
		},
		{
			name: "session start without outcome, zone \"null\"", line: 2,
			rawType: "user.session.start", action: event.ActionUserLogin, outcome: event.OutcomeUnknown,
			actorID: "111111", actorType: event.ActorUser, actorEmail: "homer@springfield.gov", ip: "1.1.1.1",
			targets: []string{}, tstamp: "2022-03-22T14:21:53.225Z",
		},
		{
			name: "lower-cased keys, failure with reason", line: 7,
			rawType: "user.session.start", action: event.ActionUserLogin, outcome: event.OutcomeFailure, reason: "INVALID_CREDENTIALS",
			actorID: "00abc123", actorType: event.ActorUser,
			targets: []string{"user:0002222AAAA:Peter Griffin"}, id: "AbC-123-XyZ", correlation: "ABcDeFgG", tstamp: "2022-06-22T18:18:29.015Z",
		},
		{
			name: "API token created", line: 10,
			rawType: "system.api_token.create", action: event.ActionCredentialCreate, outcome: event.OutcomeSuccess,
			actorID: "00u3q14ei6KUOm4Xi2p4", actorType: event.ActorUser,
			targets: []string{"credential:00Tpki36zlWjhjQ1u2p4:test_key"}, tstamp: "2021-01-08T21:28:34.875Z",
		},
		{
			name: "API token revoked", line: 11,
			rawType: "system.api_token.revoke", action: event.ActionCredentialRevoke, outcome: event.OutcomeSuccess,
			actorID: "00u3q14ei6KUOm4Xi2p4", actorType: event.ActorUser,
			targets: []string{"credential:00Tpki36zlWjhjQ1u2p4:test_key"},
		},
		{
			name: "OAuth client actor is an app", line: 12,
			rawType: "app.oauth2.authorize.code", action: event.ActionOther, outcome: event.OutcomeSuccess,
			actorID: "okta.1234.", actorType: event.ActorApp,
		},
		{
			name: "group privilege grant that failed keeps its action", line: 16,
			rawType: "group.privilege.grant", action: event.ActionRoleGrant, outcome: event.OutcomeFailure,
			actorID: "00ABC123", actorType: event.ActorUser,
		},
		{
			name: "DENY is a failure", line: 46,
			rawType: "system.operation.rate_limit.violation", action: event.ActionOther, outcome: event.OutcomeFailure,
			reason: "Too many requests attempted by an individual user", actorID: "00abc456", actorType: event.ActorUser,
		},
		{
			name: "CHALLENGE is unknown", line: 27,
			rawType: "policy.evaluate_sign_on", action: event.ActionOther, outcome: event.OutcomeUnknown,
			reason: "Sign-on policy evaluation resulted in CHALLENGE", actorID: "00abc123", actorType: event.ActorUser,
		},
		{
			name: "debugData as an empty string", line: 34,
			rawType: "application.user_membership.show_password", action: event.ActionOther, outcome: event.OutcomeSuccess,
			actorID: "XXXXXXXXXXXXXXXX", actorType: event.ActorUser, actorEmail: "eric.montgomery@email.com", ip: "218.56.201.220",
		},
		{
			name: "password reset", line: 52,
			rawType: "user.account.reset_password", action: event.ActionPasswordReset, outcome: event.OutcomeSuccess,
			actorID: "1111111", actorType: event.ActorUser,
		},
		{
			name: "MFA reset", line: 60,
			rawType: "user.mfa.factor.reset_all", action: event.ActionMFAReset, outcome: event.OutcomeSuccess,
			actorID: "00abc123", actorType: event.ActorUser,
		},
		{
			name: "user created, RFC 3339 time", line: 108,
			rawType: "user.lifecycle.create", action: event.ActionUserCreate, outcome: event.OutcomeSuccess,
			actorID: "00uc1umudIxtsadWL356", actorType: event.ActorUser, actorEmail: "jack.naglieri@runpanther.io",
			targets: []string{"user:00uaf260zjOUVxvsn357:Thomas Kan"}, id: "e6054be2-db52-11eb-bf04-0f9a403a57aa",
			correlation: "YN8-SX82GN2R5pfBoGXrywAABg4", tstamp: "2021-07-02T16:31:05.784Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := normtest.Line(t, samples, tt.line)
			evs, err := Normalizer{}.Normalize(nil, raw, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("got %d events, want 1", len(evs))
			}
			e := evs[0]
			check := func(field, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("source", e.Source, event.SourceOkta)
			check("tenant", e.Tenant, "acme")
			check("raw_type", e.RawType, tt.rawType)
			check("action", e.Action, tt.action)
			check("outcome", e.Outcome, tt.outcome)
			check("reason", e.Reason, tt.reason)
			check("actor.id", e.Actor.ID, tt.actorID)
			check("actor.type", e.Actor.Type, tt.actorType)
			if tt.actorEmail != "" {
				check("actor.email", e.Actor.Email, tt.actorEmail)
			}
			if tt.ip != "" {
				check("actor.ip", e.Actor.IP, tt.ip)
			}
			if tt.targets != nil {
				if got := normtest.Targets(e.Targets); !slices.Equal(got, tt.targets) {
					t.Errorf("targets = %q, want %q", got, tt.targets)
				}
			}
			if tt.id != "" {
				check("id", e.ID, tt.id)
			}
			if tt.correlation != "" {
				check("correlation_id", e.CorrelationID, tt.correlation)
			}
			if tt.tstamp != "" {
				check("time", e.Time.Format(event.TimeLayout), tt.tstamp)
			}
			if string(e.Raw) != string(raw) {
				t.Error("raw is not the record")
			}
		})
	}
}

// TestAllSamples normalizes every sample: each is an event or is rejected
// for a reason a person can act on; none is silently dropped.
func TestAllSamples(t *testing.T) {
	rejected := map[int]string{}
	for i, raw := range normtest.Lines(t, samples) {
		evs, err := Normalizer{}.Normalize(nil, raw, "")
		if err != nil {
			rejected[i+1] = err.Error()
			continue
		}
		if len(evs) != 1 || !event.ValidAction(evs[0].Action) || evs[0].RawType == "" || evs[0].Time.IsZero() {
			t.Errorf("line %d: bad event %+v", i+1, evs)
		}
	}
	// The samples that cannot be events: a redacted or missing published,
	// and two records holding only enrichment data.
	want := map[string]int{`unrecognised time "redacted"`: 4, "missing time": 13, "no eventType": 2}
	got := map[string]int{}
	for line, msg := range rejected {
		matched := false
		for k := range want {
			if strings.Contains(msg, k) {
				got[k]++
				matched = true
			}
		}
		if !matched {
			t.Errorf("line %d rejected for an unexpected reason: %s", line, msg)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d records rejected for %q, want %d", got[k], k, n)
		}
	}
}

func TestEventHook(t *testing.T) {
	raw, err := os.ReadFile("testdata/event-hook.json")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := Normalizer{}.Normalize(nil, raw, "default-tenant")
	if err != nil {
		t.Fatal(err)
	}
	wantActions := []string{event.ActionUserCreate, event.ActionGroupMemberAdd, event.ActionAppAssign, event.ActionUserUpdate}
	if len(evs) != len(wantActions) {
		t.Fatalf("got %d events, want %d", len(evs), len(wantActions))
	}
	for i, e := range evs {
		if e.Action != wantActions[i] {
			t.Errorf("event %d: action %q, want %q", i, e.Action, wantActions[i])
		}
		if e.Tenant != "acme.okta.com" {
			t.Errorf("event %d: tenant %q, want the hook's org acme.okta.com", i, e.Tenant)
		}
		if !strings.HasPrefix(string(e.Raw), "{") || !strings.Contains(string(e.Raw), e.ID) {
			t.Errorf("event %d: raw is not the inner event: %.60s", i, e.Raw)
		}
	}
	if got := normtest.Targets(evs[1].Targets); !slices.Equal(got, []string{"user:00unew0001:Eve New", "group:00gadmins01:Okta Admins"}) {
		t.Errorf("membership targets = %q", got)
	}
	if a := evs[2].Actor; a.Type != event.ActorApp || evs[2].Outcome != event.OutcomeFailure || evs[2].Reason != "User already assigned" {
		t.Errorf("app assignment: actor %+v outcome %q reason %q", a, evs[2].Outcome, evs[2].Reason)
	}
	if got := normtest.Changes(evs[3].Changes); !slices.Equal(got, []string{"manager:->00u1adm1nXYZ", "title:Intern->Director"}) {
		t.Errorf("changes = %q", got)
	}
	if got := evs[0].Time; !got.Equal(time.Date(2026, 11, 20, 3, 12, 5, 843e6, time.UTC)) {
		t.Errorf("time = %v", got)
	}
}

func TestHashIDWhenNoUUID(t *testing.T) {
	a := []byte(`{"eventType":"user.lifecycle.create","published":"2026-01-01T00:00:00Z","actor":{"id":"x"}}`)
	b := []byte("{\n  \"eventType\": \"user.lifecycle.create\",\n  \"published\": \"2026-01-01T00:00:00Z\",\n  \"actor\": {\"id\": \"x\"}\n}")
	c := []byte(`{"eventType":"user.lifecycle.create","published":"2026-01-01T00:00:01Z","actor":{"id":"x"}}`)
	id := func(raw []byte) string {
		evs, err := Normalizer{}.Normalize(nil, raw, "")
		if err != nil {
			t.Fatal(err)
		}
		return evs[0].ID
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id(a)) {
		t.Errorf("id %q is not 32 hex digits", id(a))
	}
	if id(a) != id(b) {
		t.Error("whitespace changed the id")
	}
	if id(a) == id(c) {
		t.Error("different records share an id")
	}
}

func TestRejects(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{`{"published":"2026-01-01T00:00:00Z"}`, "no eventType"},
		{`{"eventType":"user.session.start"}`, "published: missing time"},
		{`{"eventType":"user.session.start","published":"yesterday"}`, `unrecognised time "yesterday"`},
		{`{"eventType":"user.session.start","published":"2026-01-01T00:00:00Z","target":{"id":"x"}}`, "field target"},
		{`{"eventType":"x","published":"2026-01-01T00:00:00Z","actor":{"id":7}}`, "field actor.id"},
		{`[1,2]`, "okta:"},
		{`{"data":{"events":[{"eventType":"user.session.start"}]}}`, "data.events[0]: published: missing time"},
	}
	for _, tt := range tests {
		_, err := Normalizer{}.Normalize(nil, []byte(tt.raw), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.raw, err, tt.want)
		}
	}
	if _, err := (Normalizer{}).Normalize(nil, []byte(`{"published":"2026-01-01T00:00:00Z"}`), ""); !errors.Is(err, ErrNotOkta) {
		t.Errorf("error %v is not ErrNotOkta", err)
	}
}

// TestVendorShaped: records written from Okta's System Log documentation
// for what the public samples lack (testdata/README.md), each checked for
// action, outcome, actor and every target.
func TestVendorShaped(t *testing.T) {
	const admin, dana, system = "00u1adm1n0000000A001", "00u1dana00000000A002", "system@okta.com"
	const user = "user:" + dana + ":Dana Lee"
	tests := []struct {
		rawType, action, outcome, actor, actorType string
		targets                                    []string
	}{
		// One grant, one role: the ROLE target, not every role privilegeGranted lists.
		{"user.account.privilege.grant", event.ActionRoleGrant, event.OutcomeSuccess, admin, event.ActorUser,
			[]string{user, "role:SUPER_ADMIN:Super Administrator"}},
		{"user.account.privilege.grant", event.ActionRoleGrant, event.OutcomeSuccess, admin, event.ActorUser,
			[]string{user, "role::Help Desk administrator (all)"}},
		// A user's own password change; an admin setting it is a reset.
		{"user.account.update_password", event.ActionPasswordChange, event.OutcomeSuccess, dana, event.ActorUser, []string{user}},
		{"user.account.update_password", event.ActionPasswordReset, event.OutcomeSuccess, admin, event.ActorUser, []string{user}},
		// Apps by their label in the org, not their kind.
		{"user.authentication.sso", event.ActionUserLogin, event.OutcomeSuccess, dana, event.ActorUser,
			[]string{"app:0oa1sfdc000000000A01:Initech Salesforce", "app_user:0ua1appuser0000000A3:dana@initech.example"}},
		{"application.user_membership.add", event.ActionAppAssign, event.OutcomeSuccess, admin, event.ActorUser,
			[]string{"app:0oa1idp0000000000A02:Partner Portal", user}},
		{"app.user_management", event.ActionGroupMemberAdd, event.OutcomeSuccess, system, event.ActorSystem,
			[]string{user, "group:00g1adgrp000000000A4:Domain Admins", "app:0oa1ad00000000000A05:initech.example AD"}},
		{"user.account.lock", event.ActionUserLock, event.OutcomeSuccess, system, event.ActorSystem, []string{user}},
		{"user.account.unlock_by_admin", event.ActionUserUnlock, event.OutcomeSuccess, admin, event.ActorUser, []string{user}},
		{"user.session.clear", event.ActionSessionRevoke, event.OutcomeSuccess, admin, event.ActorUser, []string{user}},
		{"user.session.end", event.ActionUserLogout, event.OutcomeSuccess, dana, event.ActorUser, []string{}},
		{"user.mfa.factor.activate", event.ActionMFAEnroll, event.OutcomeSuccess, dana, event.ActorUser, []string{user}},
		{"user.mfa.factor.deactivate", event.ActionMFARemove, event.OutcomeSuccess, admin, event.ActorUser, []string{user}},
		{"application.lifecycle.create", event.ActionAppCreate, event.OutcomeSuccess, admin, event.ActorUser,
			[]string{"app:0oa1new00000000000A6:Payroll Export"}},
		{"app.oauth2.as.consent.grant", event.ActionAppConsent, event.OutcomeSuccess, dana, event.ActorUser,
			[]string{"app:0oa1new00000000000A6:Payroll Export", "role:scp1okta.users.read00:okta.users.read"}},
		{"system.email_domain.verify", event.ActionDomainVerify, event.OutcomeSuccess, admin, event.ActorUser,
			[]string{"other:ed1initech0000000A07:mail.initech.example"}},
	}
	lines := normtest.Lines(t, "testdata/vendor-shaped.ndjson")
	if len(lines) != len(tests) {
		t.Fatalf("%d records, %d cases", len(lines), len(tests))
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", i+1, tt.rawType), func(t *testing.T) {
			evs, err := Normalizer{}.Normalize(nil, lines[i], "initech")
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			e := evs[0]
			got := []string{e.RawType, e.Action, e.Outcome, e.Actor.ID, e.Actor.Type}
			want := []string{tt.rawType, tt.action, tt.outcome, tt.actor, tt.actorType}
			if !slices.Equal(got, want) {
				t.Errorf("raw_type, action, outcome, actor, actor type = %q, want %q", got, want)
			}
			if ts := normtest.Targets(e.Targets); !slices.Equal(ts, tt.targets) {
				t.Errorf("targets = %q, want %q", ts, tt.targets)
			}
		})
	}
}

// TestMappedTypesExist: every event type the normalizer maps is one Okta
// documents (testdata/okta-event-types.csv), so a typo cannot hide a
// mapping that never matches.
func TestMappedTypesExist(t *testing.T) {
	b, err := os.ReadFile("testdata/okta-event-types.csv")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		known[strings.TrimSpace(l)] = true
	}
	if len(known) < 1000 {
		t.Fatalf("%d event types read", len(known))
	}
	for _, m := range Mappings() {
		if !known[m.RawType] {
			t.Errorf("%s is mapped but is not an Okta event type", m.RawType)
		}
	}
}

// TestAppUsers: Okta's app assignment and provisioning records list the
// person's account in the app (AppUser, 0ua…, by the app's login) before
// the app and the person (testdata/app-users.ndjson, written from Okta's
// event-type documentation): the account is an app_user target, the
// person the user target, so that the access map joins an app's
// provisioning with the person's deactivation.
func TestAppUsers(t *testing.T) {
	const admin, system = "00u1adm1n0000000A001", "0oa1okta0system000A00"
	const dana = "user:00u1dana00000000A002:Dana Lee"
	sfdc := []string{"app_user:0ua1dana0sfdc0000A11:dana@initech.example", "app:0oa1sfdc000000000A01:Initech Salesforce", dana}
	slack := []string{"app_user:0ua1dana0slack000A12:dana", "app:0oa1slack00000000A08:Initech Slack", dana}
	zoom := []string{"app_user:0ua1dana0zoom0000A13:dana@initech.example", "app:0oa1zoom000000000A09:Initech Zoom", dana}
	type shape normtest.Shape // its cases unkeyed
	tests := []shape{
		{"application.user_membership.add", event.ActionAppAssign, event.OutcomeSuccess, admin, sfdc},
		{"application.provision.user.push", event.ActionAppProvision, event.OutcomeSuccess, system, sfdc},
		{"application.user_membership.add", event.ActionAppAssign, event.OutcomeSuccess, admin, slack},
		{"application.provision.user.push", event.ActionAppProvision, event.OutcomeSuccess, system, slack},
		{"application.user_membership.add", event.ActionAppAssign, event.OutcomeSuccess, admin, zoom},
		{"user.lifecycle.deactivate", event.ActionUserDeactivate, event.OutcomeSuccess, admin, []string{dana}},
		{"application.provision.user.deactivate", event.ActionAppProvision, event.OutcomeSuccess, system, sfdc},
		{"application.provision.user.deactivate", event.ActionAppProvision, event.OutcomeFailure, system, slack},
		{"application.user_membership.remove", event.ActionAppUnassign, event.OutcomeSuccess, system, zoom},
		{"user.authentication.sso", event.ActionUserLogin, event.OutcomeSuccess, "00u1dana00000000A002", []string{slack[1], slack[0]}},
	}
	lines := normtest.Lines(t, "testdata/app-users.ndjson")
	if len(lines) != len(tests) {
		t.Fatalf("%d records, %d cases", len(lines), len(tests))
	}
	for i, tt := range tests {
		evs, err := Normalizer{}.Normalize(nil, lines[i], "initech")
		if err != nil || len(evs) != 1 {
			t.Fatalf("line %d: %d events, %v", i+1, len(evs), err)
		}
		e := evs[0]
		normtest.CheckShape(t, fmt.Sprintf("line %d", i+1), e, normtest.Shape(tt))
		// The person, not the app user, is the user target every rule
		// and view reads.
		if u := e.TargetOfType(event.TargetUser); u == nil && tt.RawType != "user.authentication.sso" || u != nil && u.ID != "00u1dana00000000A002" {
			t.Errorf("line %d: user target %+v, want the person", i+1, u)
		}
	}
}
