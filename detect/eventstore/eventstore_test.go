package eventstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// end is where the generated history ends: in the past of any clock the
// tests run on.
var end = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// newRules are the history-aware built-in rules.
var newRules = []string{"new-provisioning-source", "role-change-rate-anomaly", "off-hours-for-actor", "stale-account", "dormant-admin", "never-activated",
	"deprovision-overdue", "deprovision-failed", "access-after-deprovision", "app-write-after-deprovision",
	"scim-token-new-client", "scim-scope-drift", "scim-privileged-attribute-write", "scim-error-burst", "scim-bulk-read",
	"credential-not-rotated", "credential-used-after-revoke", "scim-admin-activated"}

var fixture struct {
	once   sync.Once
	db     string
	plants []synth.Plant
	err    error
}

// planted imports 45 days of generated history for three tenants in three
// time zones, with one anomaly planted for each history-aware rule, into a
// database of its own (once per test binary), through the normalizers.
func planted(t *testing.T) (*eventstore.Store, []synth.Plant) {
	t.Helper()
	st, plants := plantedStore(t)
	return eventstore.New(st), plants
}

// plantedStore is planted's ClickHouse store.
func plantedStore(t *testing.T) (*clickhouse.Store, []synth.Plant) {
	t.Helper()
	addr := testenv.ClickHouse(t)
	fixture.once.Do(func() {
		fixture.db = testenv.Name("history")
		st, err := openStore(addr, fixture.db)
		if err != nil {
			fixture.err = err
			return
		}
		defer st.Close()
		if fixture.err = st.Migrate(context.Background()); fixture.err != nil {
			return
		}
		fixture.plants, fixture.err = importHistory(st, synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(300, 5), End: end, Days: 45, Seed: 7, Plant: true})
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	st, err := openStore(addr, fixture.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, fixture.plants
}

func openStore(addr, db string) (*clickhouse.Store, error) {
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.Database, cfg.Compression = []string{addr}, db, "none"
	return clickhouse.Open(cfg, nil)
}

// importHistory normalizes the generated records as import does (each
// file with its tenant) and inserts them.
func importHistory(st *clickhouse.Store, cfg synth.HistoryConfig) ([]synth.Plant, error) {
	var rows []clickhouse.Row
	flush := func() error {
		err := st.Insert(context.Background(), rows, time.Now())
		rows = rows[:0]
		return err
	}
	plants, err := synth.History(cfg, func(tenant, src string, rec []byte) error {
		n, err := source.ForSource(src)
		if err != nil {
			return err
		}
		evs, err := n.Normalize(nil, append([]byte(nil), rec...), tenant)
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", tenant, src, err, rec)
		}
		for i := range evs {
			rows = append(rows, clickhouse.Row{Event: &evs[i], Topic: "test"})
		}
		if len(rows) >= 20000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return plants, flush()
}

// builtin loads the built-in rules with the tenants' time zones.
func builtin(t *testing.T, ids ...string) *rules.Set {
	t.Helper()
	cal := rules.DefaultCalendar()
	cal.Tenants = map[string]rules.Hours{}
	for _, tn := range synth.DefaultHistoryTenants(1, 1) {
		h := cal.Default
		h.Timezone = tn.Timezone
		cal.Tenants[tn.Name] = h
	}
	set, err := rules.Load(rules.Options{Calendar: &cal}, "../../rules/builtin")
	if err != nil {
		t.Fatal(err)
	}
	var picked []*rules.Rule
	for _, r := range set.Rules {
		if slices.Contains(ids, r.ID) {
			picked = append(picked, r)
		}
	}
	return set.Subset(picked...)
}

func engine(t *testing.T, set *rules.Set, alerts *[]detect.Alert) *detect.Engine {
	t.Helper()
	cfg := detect.DefaultConfig()
	cfg.MaxFutureSkew = 0
	eng, err := detect.New(cfg, set, detect.SinkFunc(func(a detect.Alert) error {
		if a.Final {
			*alerts = append(*alerts, a)
		}
		return nil
	}), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func describe(alerts []detect.Alert) string {
	var b strings.Builder
	for _, a := range alerts {
		fmt.Fprintf(&b, "\n  %s %s %s %s: %s", a.First.Format(time.RFC3339), a.Rule, a.Tenant, a.Key, a.Title)
	}
	return b.String()
}

// TestPlantedAnomaliesFound: over the last week of the history, each
// planted anomaly raises its rule's alert, about its actor, client or
// account, and the history-aware rules raise nothing else.
func TestPlantedAnomaliesFound(t *testing.T) {
	src, plants := planted(t)
	// Two in the fourth tenant (Google Workspace), the three
	// deprovisioning risks in each of the three that log provisioning,
	// the six SCIM risks in each tenant, and the two credential risks in
	// each Okta tenant.
	if len(plants) != 45 {
		t.Fatalf("%d plants, want 45", len(plants))
	}
	var alerts []detect.Alert
	eng := engine(t, builtin(t, newRules...), &alerts)
	st, err := detect.Backtest(context.Background(), eng, src, src, end.AddDate(0, 0, -7), end, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Learned < 10000 || st.Evaluated < 5000 || st.Runs != 4*7*4+5*7*48 {
		t.Errorf("learned %d, evaluated %d, %d scheduled runs", st.Learned, st.Evaluated, st.Runs)
	}
	for _, p := range plants {
		found := slices.ContainsFunc(alerts, func(a detect.Alert) bool {
			return a.Rule == p.Rule && a.Tenant == p.Tenant && strings.Contains(a.Key, p.Key)
		})
		if !found {
			t.Errorf("planted %s in %s (key %s) not found; alerts:%s", p.Rule, p.Tenant, p.Key, describe(alerts))
		}
	}
	t.Log(describe(alerts))
	if len(alerts) != len(plants) {
		t.Errorf("%d alerts for %d plants:%s", len(alerts), len(plants), describe(alerts))
	}
}

// TestNormalWeeksRaiseNothing: three weeks of the same history before the
// plants (working-hours rhythms in three time zones, hires, leavers, SCIM
// syncs day and night) raise nothing from the history-aware rules.
func TestNormalWeeksRaiseNothing(t *testing.T) {
	src, _ := planted(t)
	var alerts []detect.Alert
	set := builtin(t, newRules...)
	// The scheduled rules every 6 hours rather than every 30 minutes over
	// these three weeks (the account state is per day; a run every 30
	// minutes costs minutes here): normal traffic (slow apps within their
	// SLA) never has a gap past its SLA for a run to find.
	for _, r := range set.Rules {
		if r.Scheduled != nil && r.Scheduled.Interval < 6*time.Hour {
			r.Scheduled.Interval = 6 * time.Hour
		}
	}
	eng := engine(t, set, &alerts)
	st, err := detect.Backtest(context.Background(), eng, src, src, end.AddDate(0, 0, -29), end.AddDate(0, 0, -7), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Evaluated < 15000 {
		t.Errorf("evaluated %d events", st.Evaluated)
	}
	if len(alerts) > 0 {
		t.Errorf("%d alerts in normal weeks:%s", len(alerts), describe(alerts))
	}
}

// TestRestartNoBurst: a detector that stops mid-week and restarts from its
// checkpoint warms from ClickHouse up to it, raises after the restart the
// alerts an uninterrupted detector raises after that point, and nothing
// more: no burst of alerts on everything it had learned.
func TestRestartNoBurst(t *testing.T) {
	src, _ := planted(t)
	ctx := context.Background()
	learning := []string{"new-provisioning-source", "role-change-rate-anomaly", "off-hours-for-actor"}
	t0, t1 := end.AddDate(0, 0, -7), end.AddDate(0, 0, -4)
	process := func(eng *detect.Engine, from, to time.Time) {
		t.Helper()
		if err := src.Events(ctx, from, to, nil, func(ev *event.Event) error { return eng.Process(ev) }); err != nil {
			t.Fatal(err)
		}
	}

	// Uninterrupted.
	var all []detect.Alert
	whole := engine(t, builtin(t, learning...), &all)
	if _, err := whole.Warm(ctx, src, t0); err != nil {
		t.Fatal(err)
	}
	process(whole, t0, end)
	if err := whole.Flush(); err != nil {
		t.Fatal(err)
	}

	// Stopped at t1 without a word (held events lost), checkpoint saved.
	var before []detect.Alert
	first := engine(t, builtin(t, learning...), &before)
	if _, err := first.Warm(ctx, src, t0); err != nil {
		t.Fatal(err)
	}
	process(first, t0, t1)
	name := testenv.Name("detector")
	if err := src.SaveCheckpoint(ctx, name, first.Progress()); err != nil {
		t.Fatal(err)
	}
	// Restarted: warms up to the checkpoint, and the stream is delivered
	// again from there.
	cp, ok, err := src.Checkpoint(ctx, name)
	if err != nil || !ok || !cp.Equal(first.Progress()) || cp.Before(t1.Add(-time.Hour)) {
		t.Fatalf("checkpoint %v %v %v, progress %v", cp, ok, err, first.Progress())
	}
	var after []detect.Alert
	second := engine(t, builtin(t, learning...), &after)
	ws, err := second.Warm(ctx, src, cp)
	if err != nil || len(ws.Rules) != 3 || ws.Events < 10000 {
		t.Fatalf("warm: %+v %v", ws, err)
	}
	process(second, cp, end)
	if err := second.Flush(); err != nil {
		t.Fatal(err)
	}

	var want []string
	for _, a := range all {
		if !a.First.Before(cp) {
			want = append(want, a.ID)
		}
	}
	var got []string
	for _, a := range after {
		got = append(got, a.ID)
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("after the restart: %v, want %v (uninterrupted:%s\nrestarted:%s)", got, want, describe(all), describe(after))
	}
}
