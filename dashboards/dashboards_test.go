package dashboards

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/alertstore"
	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
	"github.com/scimwatch/scimwatch/storage/clickhouse/clickhousetest"
)

var update = flag.Bool("update", false, "rewrite grafana/*.json from the code")

// TestFilesUpToDate: the provisioned JSON files are what the code says.
func TestFilesUpToDate(t *testing.T) {
	for _, d := range All() {
		b, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join("grafana", strings.TrimPrefix(d.UID, "scimwatch-")+".json")
		if *update {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != string(b) {
			t.Errorf("%s is not what the code says (%v): go test ./dashboards -run TestFilesUpToDate -update", p, err)
		}
	}
}

// TestClickHouseQueries runs every ClickHouse panel query, its macros and
// variables expanded as the plugin expands them, on real ClickHouse filled
// by the simulator (ten days of three tenants, with the planted stale,
// dormant and never-activated accounts) and alerting's store: no query
// fails, and those the data guarantees rows for have rows.
func TestClickHouseQueries(t *testing.T) {
	addr := testenv.ClickHouse(t)
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.Database, cfg.Compression = []string{addr}, testenv.Name("scimwatch_dash"), "none"
	store, err := clickhouse.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		_ = store.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database)
		store.Close()
	})
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC().Truncate(time.Hour)
	var rows []clickhouse.Row
	_, _, err = synth.Simulate(synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(60, 4), End: end, Days: 10, Seed: 3, Plant: true},
		func(tenant, _ string, rec []byte) error {
			evs, err := source.Auto{}.Normalize(nil, append([]byte(nil), rec...), tenant)
			for i := range evs {
				rows = append(rows, clickhouse.Row{Event: &evs[i], Topic: "test"})
			}
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	// Some events twice: at-least-once delivery must not inflate counts.
	rows = append(rows, rows[:500]...)
	for i := 0; i < len(rows); i += 5000 {
		if err := store.Insert(ctx, rows[i:min(i+5000, len(rows))], time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// Alerts, as the notifier stores them: some acknowledged, one a false
	// positive, one of each hygiene rule.
	as := alertstore.New(store)
	var alerts []alerting.Alert
	for i, rule := range []string{"bulk-role-change", "privileged-role-grant", "stale-account", "dormant-admin", "never-activated", "bulk-role-change"} {
		first := end.Add(-time.Duration(i+1) * 7 * time.Hour)
		a := alerting.Alert{ID: "a" + string(rune('0'+i)), Rule: rule, Severity: "high", Tenant: []string{"acme", "globex", "initech"}[i%3],
			Key: "k", Status: alerting.StatusFiring, StatusBy: "detect", StatusAt: first, First: first, Last: first, Count: 1, Version: 1}
		alerts = append(alerts, a)
		if i%2 == 0 {
			a.Status, a.StatusBy, a.StatusAt, a.Version = alerting.StatusAcknowledged, "ann", first.Add(time.Duration(i+5)*time.Minute), 2
			alerts = append(alerts, a)
		}
	}
	if err := as.SaveAlerts(ctx, alerts, nil); err != nil {
		t.Fatal(err)
	}
	if err := store.Conn().Exec(ctx, "OPTIMIZE TABLE "+cfg.Database+".alerts_buffer"); err != nil {
		t.Fatal(err)
	}
	conn, err := store.QueryConn()
	if err != nil {
		t.Fatal(err)
	}
	tenants := []string{"acme", "globex", "initech", "umbrella"}
	for _, d := range All() {
		for _, p := range d.Panels {
			if p.Datasource != ClickHouse {
				continue
			}
			t.Run(d.UID+"/"+p.Title, func(t *testing.T) {
				q, err := Expand(p.Query, tenants, end.Add(-10*24*time.Hour), end, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				rs, err := conn.Query(ctx, q)
				if err != nil {
					t.Fatalf("%v\n%s", err, q)
				}
				n := 0
				for rs.Next() {
					n++
				}
				if err := rs.Err(); err != nil {
					t.Fatal(err)
				}
				rs.Close()
				if p.Rows && n == 0 {
					t.Errorf("no rows, where the simulator's data guarantees some:\n%s", q)
				}
			})
		}
	}
	// Exact counts: the "Events by tenant" panel sums to the distinct
	// events of its range, the events inserted twice counted once.
	var byTenant string
	for _, p := range activity().Panels {
		if p.Title == "Events by tenant" {
			byTenant = p.Query
		}
	}
	from := end.Add(-10 * 24 * time.Hour)
	q, err := Expand("SELECT sum(events) FROM ("+byTenant+")", tenants, from, end, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	if err := conn.QueryRow(ctx, q).Scan(&total); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	distinct := map[string]bool{}
	for _, r := range rows {
		if !r.Event.Time.Before(from) && !r.Event.Time.After(end) {
			distinct[r.Event.Tenant+"\x00"+r.Event.ID] = true
		}
	}
	if total != uint64(len(distinct)) {
		t.Errorf("%d events counted, %d distinct: duplicates inflate the counts", total, len(distinct))
	}
	// The activity panels read roll-ups for the days rolled up as they are
	// now, events for the rest: at every stage, rolled or not, stale or
	// not, each gives what its reference (events only) gives.
	checkRollups(t, store, rows, end)
}

func TestExpand(t *testing.T) {
	from, to := time.Unix(1000, 0), time.Unix(5000, 0)
	got, err := Expand("SELECT 1 FROM e WHERE $__timeFilter(time) AND t IN (${tenant:singlequote}) AND d <= $__toTime AND d >= $__fromTime GROUP BY intDiv(x, $__interval_s)",
		[]string{"acme", "o'brien"}, from, to, 5*time.Minute)
	want := `SELECT 1 FROM e WHERE time >= toDateTime(1000) AND time <= toDateTime(5000) AND t IN ('acme','o\'brien') AND d <= toDateTime(5000) AND d >= toDateTime(1000) GROUP BY intDiv(x, 300)`
	if err != nil || got != want {
		t.Errorf("got %s, %v\nwant %s", got, err, want)
	}
	if _, err := Expand("SELECT $__unknown", nil, from, to, time.Minute); err == nil {
		t.Error("an unknown macro expanded silently")
	}
}

// checkRollups compares each activity panel with its reference (events
// only) over several ranges and intervals: before any roll-up, after one,
// after a rolled day received a duplicate and a new event (stale: read from
// events again), and after rolling up again. It also checks which days the
// panels read from the roll-ups, so that a test passing because nothing is
// ever read from them fails.
func checkRollups(t *testing.T, store *clickhouse.Store, rows []clickhouse.Row, end time.Time) {
	ctx := context.Background()
	conn, err := store.QueryConn()
	if err != nil {
		t.Fatal(err)
	}
	tenants := []string{"acme", "globex", "initech", "umbrella"}
	spans := []span{
		{end.Add(-10 * 24 * time.Hour), end, time.Hour},
		{end.Add(-8*24*time.Hour - 7*time.Hour - 13*time.Minute), end.Add(-26 * time.Hour), 2 * time.Hour},
		{end.Add(-6 * 24 * time.Hour), end, time.Minute},
	}
	// rolledUntil is the first day the panels read from events, from the
	// first whole day of the range (as SQL evaluates it), and that first
	// whole day.
	rolledUntil := func(sp span) (lo, hi string) {
		q, err := Expand("SELECT toString("+rollLo+"), toString("+rollHi+")", tenants, sp.from, sp.to, sp.interval)
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, q).Scan(&lo, &hi); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		return lo, hi
	}
	compare := func(stage string) {
		for _, sp := range spans {
			for _, p := range activity().Panels {
				if p.reference == "" {
					t.Fatalf("%s: no reference query", p.Title)
				}
				got := queryRows(t, conn, p.Query, tenants, sp.from, sp.to, sp.interval)
				want := queryRows(t, conn, p.reference, tenants, sp.from, sp.to, sp.interval)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s, %s from %s to %s by %s: %d rows from roll-ups and events, %d from events alone; first difference:\n%s",
						stage, p.Title, sp.from.Format(time.RFC3339), sp.to.Format(time.RFC3339), sp.interval, len(got), len(want), firstDiff(got, want))
				}
			}
		}
	}
	compare("nothing rolled up")
	if lo, hi := rolledUntil(spans[0]); hi != lo {
		t.Errorf("nothing rolled up, yet the panels read %s to %s from roll-ups", lo, hi)
	}
	var mu sync.Mutex
	var fills []string
	store.Trace(func(sql string) { mu.Lock(); fills = append(fills, sql); mu.Unlock() })
	st, err := store.Rollup(ctx, time.Now())
	store.Trace(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rolled) < 9 {
		t.Fatalf("rolled up %v: want the 9 or more whole days before today", st.Rolled)
	}
	compare("rolled up")
	var today string
	if err := conn.QueryRow(ctx, "SELECT toString(today())").Scan(&today); err != nil {
		t.Fatal(err)
	}
	lo, hi := rolledUntil(spans[0])
	if hi != today {
		t.Errorf("rolled up, the panels read %s to %s from roll-ups: want up to today, %s", lo, hi, today)
	}
	// A rolled day gets a duplicate and a new event: it is stale, read
	// from events until rolled up again.
	var stale []clickhouse.Row
	for _, r := range rows {
		if r.Event.Time.Format("2006-01-02") == lo {
			stale = append(stale, r)
			break
		}
	}
	if len(stale) == 0 {
		t.Fatalf("no event on %s", lo)
	}
	ev := *stale[0].Event
	ev.ID += "-late"
	stale = append(stale, clickhouse.Row{Event: &ev, Topic: "test"})
	if err := store.Insert(ctx, stale, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, hi := rolledUntil(spans[0]); hi != lo {
		t.Errorf("%s received events after its roll-up, yet the panels read it from roll-ups (up to %s)", lo, hi)
	}
	compare("a rolled day stale")
	mu.Lock()
	rollups := clickhousetest.Queries(fills)
	mu.Unlock()
	currentClickHouse(t, store, spans, rollups)
	st, err = store.Rollup(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rolled) != 1 || st.Rolled[0] != strings.ReplaceAll(lo, "-", "") {
		t.Errorf("rolled up again %v: want only the stale day %s", st.Rolled, lo)
	}
	compare("rolled up again")
	// Retention: a dropped day's roll-ups go with it.
	if _, err := store.DropPartitionsBefore(ctx, end.Add(-7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st, err = store.Rollup(ctx, time.Now()); err != nil || len(st.Dropped) == 0 {
		t.Errorf("after retention, rollup dropped %v (%v): want the dropped days", st.Dropped, err)
	}
	compare("after retention")
}

// currentClickHouse: on ClickHouse 26 (chDB) holding the same data, with
// most days rolled up and one stale, every query of every dashboard as the
// Grafana plugin expands it, the tenant variable's and the roll-ups' own
// give what they give on 18.16.
func currentClickHouse(t *testing.T, store *clickhouse.Store, spans []span, rollups []string) {
	twin := clickhousetest.NewTwin(t, store)
	tenants := []string{"acme", "globex", "initech", "umbrella"}
	n, empty := 0, 0
	for _, d := range All() {
		for _, p := range d.Panels {
			if p.Datasource != ClickHouse {
				continue
			}
			for _, sp := range spans {
				q, err := Expand(p.Query, tenants, sp.from, sp.to, sp.interval)
				if err != nil {
					t.Fatal(err)
				}
				n++
				if twin.Compare(t, q) == 0 {
					empty++
				}
			}
		}
	}
	if len(rollups) < 9*4 {
		t.Errorf("%d roll-up queries traced: want 4 for each of 9 days or more", len(rollups))
	}
	for _, q := range append(rollups, tenantsQuery) {
		n++
		if twin.Compare(t, q) == 0 {
			empty++
		}
	}
	t.Logf("ClickHouse 26: %d queries compared, %d of them empty on both", n, empty)
}

// span is a dashboard's time range and interval.
type span struct {
	from, to time.Time
	interval time.Duration
}

// queryRows runs a panel query and returns its rows, each formatted.
func queryRows(t *testing.T, conn driver.Conn, query string, tenants []string, from, to time.Time, interval time.Duration) []string {
	t.Helper()
	q, err := Expand(query, tenants, from, to, interval)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rs.Close()
	var out []string
	types := rs.ColumnTypes()
	for rs.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rs.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, v := range vals {
			fmt.Fprintf(&b, "%v\t", reflect.ValueOf(v).Elem().Interface())
		}
		out = append(out, b.String())
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	// Rows of equal sort keys come in any order.
	slices.Sort(out)
	return out
}

func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return "  got  " + x + "\n  want " + y
		}
	}
	return ""
}
