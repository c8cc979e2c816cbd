package dashboards

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/history"
	"github.com/scimwatch/scimwatch/ingest/clickhouse"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/ingest/synth"
	"github.com/scimwatch/scimwatch/ingest/testenv"
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
	as := history.New(store)
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
