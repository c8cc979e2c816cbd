package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/internal/testenv"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addrs = []string{testenv.ClickHouse(t)}
	cfg.Database = testenv.Name("scimwatch_test")
	s, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		s.Close()
	})
	return s
}

func TestMigrateConcurrently(t *testing.T) {
	a := openTest(t)
	b, err := Open(a.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Migrate(ctx) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	if err := a.Migrate(ctx); err != nil { // and once more, idempotent
		t.Fatal(err)
	}
	applied, err := a.AppliedMigrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := Migrations(a.cfg.Database)
	var want []uint32
	for _, m := range ms {
		want = append(want, m.Version)
	}
	if !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	if pending, err := a.Pending(ctx); err != nil || pending {
		t.Errorf("pending %v, %v", pending, err)
	}
	if !a.Migrated() || !b.Migrated() {
		t.Error("Migrated() is false after Migrate")
	}
}

func testEvent(id string, at time.Time) *event.Event {
	return &event.Event{
		ID: id, Time: at, Tenant: "acme", Source: event.SourceOkta, RawType: "group.user_membership.add",
		Action: event.ActionGroupMemberAdd, Outcome: event.OutcomeSuccess,
		Actor:   event.Actor{ID: "admin", Type: event.ActorUser, Email: "admin@acme.com", IP: "192.0.2.1"},
		Targets: []event.Target{{ID: "u1", Type: event.TargetUser, Name: "Ann"}, {ID: "g1", Type: event.TargetGroup, Name: "Admins"}},
		Changes: []event.Change{{Field: "title", Old: "a", New: "b"}},
		Raw:     []byte(`{"uuid":"` + id + `"}`),
	}
}

func TestInsertIsExactlyOnceByID(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 3, 12, 5, 843e6, time.UTC)
	var rows []Row
	for i := 0; i < 100; i++ {
		rows = append(rows, Row{Event: testEvent("ev-"+string(rune('a'+i%26))+time.Duration(i).String(), at.Add(time.Duration(i)*time.Second)), Topic: "t", Partition: 1, Offset: int64(i), ProducedMs: 1})
	}
	// At-least-once delivery: the whole batch twice, and half of it a third time.
	for _, batch := range [][]Row{rows, rows, rows[:50]} {
		if err := s.Insert(ctx, batch, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var raw, unique, ids uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Database()+".events").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Database()+".events_unique").Scan(&unique); err != nil {
		t.Fatal(err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT uniqExact(tenant, id) FROM "+s.Database()+".events").Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if raw != 250 || unique != 100 || ids != 100 {
		t.Errorf("rows %d, unique %d, ids %d; want 250 stored and 100 read through events_unique", raw, unique, ids)
	}

	var (
		tm      time.Time
		ms      uint16
		targets []string
		changes []string
		rawRec  string
	)
	err := s.conn.QueryRow(ctx, "SELECT time, time_ms, target_types, change_news, raw FROM "+s.Database()+".events_unique WHERE id = ?", rows[0].Event.ID).
		Scan(&tm, &ms, &targets, &changes, &rawRec)
	if err != nil {
		t.Fatal(err)
	}
	if !tm.Equal(at.Truncate(time.Second)) || ms != 843 || !slices.Equal(targets, []string{"user", "group"}) || !slices.Equal(changes, []string{"b"}) || rawRec != string(rows[0].Event.Raw) {
		t.Errorf("row read back: %v %d %v %v %s", tm, ms, targets, changes, rawRec)
	}
}

func TestRetentionDropsOldDays(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	var rows []Row
	for day := 0; day < 5; day++ {
		rows = append(rows, Row{Event: testEvent("d"+time.Duration(day).String(), now.AddDate(0, 0, -day))})
	}
	if err := s.Insert(ctx, rows, now); err != nil {
		t.Fatal(err)
	}
	s.cfg.RetentionDays = 2
	dropped, err := s.ApplyRetention(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dropped)
	if !slices.Equal(dropped, []string{"20261120", "20261121"}) {
		t.Errorf("dropped %v, want the days before 2026-11-22", dropped)
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Database()+".events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d events left, want 3", n)
	}
	s.cfg.RetentionDays = 0
	if dropped, err := s.ApplyRetention(ctx, now.AddDate(1, 0, 0)); err != nil || dropped != nil {
		t.Errorf("retention 0 dropped %v, %v", dropped, err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{Addrs: []string{"nohost"}, Database: "bad-name", Compression: "zstd", PasswordEnv: "X", PasswordFile: "/f", RetentionDays: -1, RollupInterval: -time.Minute}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`addrs[0]: "nohost" is not host:port`, `database: "bad-name"`, "set at most one", "retention_days: -1", "rollup_interval: -1m0s", "dial_timeout", `compression: "zstd"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestExactlyOnceAcrossNormalizerVersions: an event re-ingested after a
// normalizer upgrade changed its action, or its time (within the day and
// across midnight), is one event read through events_unique, and the newest
// version wins.
func TestExactlyOnceAcrossNormalizerVersions(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 23, 59, 30, 0, time.UTC)
	v1 := []*event.Event{testEvent("a", at), testEvent("b", at), testEvent("c", at)}
	v1[0].Action = event.ActionOther
	v2 := []*event.Event{testEvent("a", at), testEvent("b", at.Add(10*time.Second)), testEvent("c", at.Add(time.Minute))}
	v2[0].Action = event.ActionRoleGrant // a fix maps a raw type
	// b moves within the day, c across midnight.
	for i, version := range [][]*event.Event{v1, v2} {
		var rows []Row
		for _, e := range version {
			rows = append(rows, Row{Event: e, Topic: "t", Offset: int64(i)})
		}
		if err := s.Insert(ctx, rows, time.UnixMilli(int64(1000*(i+1)))); err != nil {
			t.Fatal(err)
		}
	}
	db := s.Database()
	var unique, ids uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+db+".events_unique").Scan(&unique); err != nil {
		t.Fatal(err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT uniqExact(tenant, id) FROM "+db+".events").Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if unique != 3 || ids != 3 {
		t.Errorf("events_unique %d rows, %d ids; want 3", unique, ids)
	}
	var action string
	var tm time.Time
	for id, want := range map[string]time.Time{"a": at, "b": at.Add(10 * time.Second), "c": at.Add(time.Minute)} {
		if err := s.conn.QueryRow(ctx, "SELECT action, time FROM "+db+".events_unique WHERE id = ?", id).Scan(&action, &tm); err != nil {
			t.Fatal(err)
		}
		if !tm.Equal(want) || id == "a" && action != event.ActionRoleGrant {
			t.Errorf("%s: %s at %v, want the newest version at %v", id, action, tm, want)
		}
	}
	// The day before holds nothing of c once read through events_unique.
	var before uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+db+".events_unique WHERE time < ?", at.Add(30*time.Second)).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if before != 2 {
		t.Errorf("%d events before midnight, want 2 (a and b)", before)
	}
}

// TestUpgradeFromTheFirstSchema: a database holding events in the 0001
// table, keyed by (tenant, action, time, id), is upgraded in place with its
// rows, by two instances at once.
func TestUpgradeFromTheFirstSchema(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	// 0001 only, as an instance of the first version left it.
	migrateTo(t, s, 1)
	db := s.Database()
	var key string
	if err := s.conn.QueryRow(ctx, "SELECT sorting_key FROM system.tables WHERE database = ? AND name = 'events'", db).Scan(&key); err != nil || key != "tenant, action, time, id" {
		t.Fatalf("0001 key %q, %v", key, err)
	}
	var rows []Row
	for i := 0; i < 500; i++ {
		rows = append(rows, Row{Event: testEvent(fmt.Sprint("old-", i), time.Date(2026, 11, 20, 3, 0, i, 0, time.UTC)), Topic: "t", Offset: int64(i)})
	}
	// As the first version wrote them: its columns only.
	if err := s.insert(ctx, rows, time.Now(), firstColumns); err != nil {
		t.Fatal(err)
	}
	b, err := Open(s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, st := range []*Store{s, b} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = st.Migrate(ctx) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	if err := s.conn.QueryRow(ctx, "SELECT sorting_key FROM system.tables WHERE database = ? AND name = 'events'", db).Scan(&key); err != nil || key != "tenant, id" {
		t.Fatalf("upgraded key %q, %v", key, err)
	}
	var n, leftovers uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+db+".events_unique").Scan(&n); err != nil || n != 500 {
		t.Errorf("%d events after the upgrade, want 500 (%v)", n, err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('events_v1', 'events_by_id')", db).Scan(&leftovers); err != nil || leftovers != 0 {
		t.Errorf("%d tables of the upgrade left, %v", leftovers, err)
	}
}

// TestTrimmedRoundTrip: what the limits cut from an event is stored with
// it and read back by Events (backtests and warm-up see it as ingest did).
func TestTrimmedRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	cut, whole := testEvent("cut", at), testEvent("whole", at.Add(time.Second))
	cut.Trimmed = event.Trimmed{Targets: 199936, Changes: 3, Strings: 2, Time: "9999-12-31T23:59:59Z"}
	if err := s.Insert(ctx, []Row{{Event: cut}, {Event: whole}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := map[string]event.Trimmed{}
	if err := s.Events(ctx, at, at.Add(time.Minute), nil, func(e *event.Event) error { got[e.ID] = e.Trimmed; return nil }); err != nil {
		t.Fatal(err)
	}
	if got["cut"] != cut.Trimmed || got["whole"].Any() || len(got) != 2 {
		t.Errorf("read back %+v", got)
	}
}

// TestAppUsersRebuild: a database at 0011 whose Okta app events were
// stored when an AppUser was typed user, and listed first (the access map
// keyed the app's rows by the app user, 0ua…), is migrated: the access map
// is rebuilt keyed by the person, with the app user's login as the
// account, so the person's deactivation and the app's missing removal
// join; events stored after, with app_user targets, land the same way.
func TestAppUsersRebuild(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	migrateTo(t, s, 11)
	at := time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC)
	okta := func(id string, dt time.Duration, rawType, action, outcome string, targets ...event.Target) Row {
		return Row{Event: &event.Event{ID: id, Time: at.Add(dt), Tenant: "initech", Source: event.SourceOkta, RawType: rawType, Action: action,
			Outcome: outcome, Actor: event.Actor{ID: "00u-admin", Type: event.ActorUser}, Targets: targets, Raw: []byte(`{}`)}, Topic: "t"}
	}
	person := event.Target{ID: "00u-dana", Type: event.TargetUser, Name: "Dana Lee", Email: "dana@initech.example"}
	app := event.Target{ID: "0oa-slack", Type: event.TargetApp, Name: "Initech Slack"}
	oldAppUser := event.Target{ID: "0ua-dana", Type: event.TargetUser, Name: "Dana Lee"} // as stored before 0012
	old := []Row{
		okta("a", -50*24*time.Hour, "application.user_membership.add", event.ActionAppAssign, event.OutcomeSuccess, oldAppUser, app, person),
		okta("b", 0, "user.lifecycle.deactivate", event.ActionUserDeactivate, event.OutcomeSuccess, person),
		okta("c", time.Minute, "application.provision.user.deactivate", event.ActionAppProvision, event.OutcomeFailure, oldAppUser, app, person),
	}
	if err := s.insert(ctx, old, time.Now(), firstColumns+`, trimmed_targets, trimmed_changes, trimmed_strings, trimmed_time`); err != nil {
		t.Fatal(err)
	}
	account := "''" // no account column before 0012
	access := func() string {
		rows, err := s.conn.Query(ctx, "SELECT user_id, app, "+account+", maxMerge(failed) > 0 FROM "+s.Database()+".app_access GROUP BY user_id, app ORDER BY user_id, app")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var u, a, acct string
			var failed uint8
			if err := rows.Scan(&u, &a, &acct, &failed); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s|%s|%s|%d;", u, a, acct, failed)
		}
		return b.String()
	}
	if got := access(); got != "00u-dana|||0;0ua-dana|Initech Slack||1;" {
		t.Fatalf("before: %s", got) // the bug: the app's row under the app user
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	account = "argMaxMerge(account)"
	if got, want := access(), "00u-dana|||0;00u-dana|Initech Slack|0ua-dana|1;"; got != want {
		t.Errorf("after 0012: %s, want %s", got, want)
	}
	// Stored now, an app user is typed app_user: the same row.
	newAppUser := event.Target{ID: "0ua-dana", Type: event.TargetAppUser, Name: "dana", Email: ""}
	if err := s.Insert(ctx, []Row{okta("d", 2*time.Minute, "application.provision.user.deactivate", event.ActionAppProvision, event.OutcomeFailure,
		newAppUser, app, person)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, want := access(), "00u-dana|||0;00u-dana|Initech Slack|dana|1;"; got != want {
		t.Errorf("after a new event: %s, want %s", got, want)
	}
}

// migrateTo applies the migrations up to version, as an instance of that
// version left the database.
func migrateTo(t *testing.T, s *Store, version uint32) {
	t.Helper()
	ctx := context.Background()
	ms, err := Migrations(s.Database())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version > version {
			break
		}
		if err := s.apply(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := s.record(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}
