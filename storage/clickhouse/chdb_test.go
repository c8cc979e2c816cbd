package clickhouse_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
	"github.com/scimwatch/scimwatch/storage/clickhouse/clickhousetest"
)

// fixture is the events of the vendor-shaped records every normalizer is
// tested on, in the time order the issue 19 tests import them.
func fixture(t *testing.T) []clickhouse.Row {
	t.Helper()
	var rows []clickhouse.Row
	for _, f := range []string{"okta/testdata/app-users.ndjson", "okta/testdata/vendor-shaped.ndjson", "entra/testdata/hr-inbound.ndjson",
		"entra/testdata/provisioning.ndjson", "scim/testdata/app-writes.ndjson", "scim/testdata/requests.ndjson", "gworkspace/testdata/exports.ndjson"} {
		b, err := os.ReadFile(filepath.Join("../../ingest/source", f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			evs, err := (source.Auto{}).Normalize(nil, []byte(line), "fixture")
			if err != nil {
				t.Fatalf("%s:%d: %v", f, i+1, err)
			}
			for j := range evs {
				e := evs[j]
				rows = append(rows, clickhouse.Row{Event: &e, Topic: f, Offset: int64(len(rows))})
			}
		}
	}
	return rows
}

// contents is every row of every table of db with rows, as text, merged
// (OPTIMIZE FINAL) and aggregate states finalized, in a stable order:
// what two servers must agree on.
func contents(t *testing.T, q func(string) ([]string, error), db string) map[string][]string {
	t.Helper()
	tables, err := q("SELECT concat(name, '\t', engine, '\t', sorting_key) FROM system.tables WHERE database = '" + db + "' AND engine LIKE '%MergeTree' AND name != 'schema_migrations' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, tl := range tables {
		f := strings.Split(tl, "\t")
		tb, aggregating, key := f[0], f[1] == "AggregatingMergeTree", strings.Split(f[2], ", ")
		if tb == "rollup_days" {
			continue // fingerprints of each server's own parts
		}
		if _, err := q("OPTIMIZE TABLE " + db + "." + tb + " FINAL"); err != nil {
			t.Fatalf("optimize %s: %v", tb, err)
		}
		cols, err := q("SELECT concat(name, '\t', type) FROM system.columns WHERE database = '" + db + "' AND table = '" + tb + "' ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		var exprs []string
		for _, c := range cols {
			name, typ, _ := strings.Cut(c, "\t")
			switch {
			case name == "ingested_ms" || name == "applied_at":
				continue // when, not what
			case aggregating && !strings.HasPrefix(typ, "AggregateFunction(") && !slices.Contains(key, name):
				continue // neither key nor measure: any row's value (accounts' day)
			case strings.HasPrefix(typ, "AggregateFunction("):
				exprs = append(exprs, "toString(finalizeAggregation("+name+"))")
			default:
				exprs = append(exprs, "toString("+name+")")
			}
		}
		rows, err := q("SELECT arrayStringConcat([" + strings.Join(exprs, ", ") + "], '|') AS r FROM " + db + "." + tb + " ORDER BY r")
		if err != nil {
			t.Fatalf("%s: %v", tb, err)
		}
		if len(rows) > 0 {
			out[tb] = append([]string{strings.Join(exprs, ", ")}, rows...)
		}
	}
	return out
}

// TestCurrentClickHouse: scimwatch's schema and inserts on ClickHouse 26
// (chDB), from the first schema with events stored under it and from an
// empty database, give every table exactly the rows ClickHouse 18.16 gives
// the same statements and the same events.
func TestCurrentClickHouse(t *testing.T) {
	ctx := context.Background()
	rows := fixture(t)
	if len(rows) < 50 {
		t.Fatalf("%d fixture events", len(rows))
	}
	old, later := rows[:len(rows)/2], rows[len(rows)/2:]
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	firstCols := clickhouse.FirstColumns

	// ClickHouse 18.16: the first schema, half the events, every migration
	// since, the other half.
	s := clickhouse.OpenTest(t)
	db := s.Database()
	clickhouse.MigrateTo(t, s, 1)
	if err := s.InsertWith(ctx, old, at, firstCols); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, later, at); err != nil {
		t.Fatal(err)
	}

	ms, err := clickhouse.Migrations(db)
	if err != nil {
		t.Fatal(err)
	}
	// ClickHouse 26: the same, statement for statement.
	c := clickhousetest.OpenCurrent(t, db)
	for _, m := range ms {
		if m.Version == 2 {
			if _, err := c.Query(clickhouse.InsertValues(db, old, at, firstCols)); err != nil {
				t.Fatalf("insert under the first schema: %v", err)
			}
		}
		if err := clickhouse.Apply(ctx, c, m); err != nil {
			t.Fatalf("ClickHouse 26: %v", err)
		}
	}
	if _, err := c.Query(clickhouse.InsertValues(db, later, at, clickhouse.InsertColumns)); err != nil {
		t.Fatalf("insert: %v", err)
	}
	// And from an empty database, every event inserted after.
	e := clickhousetest.OpenCurrent(t, db)
	for _, m := range ms {
		if err := clickhouse.Apply(ctx, e, m); err != nil {
			t.Fatalf("ClickHouse 26 from empty: %v", err)
		}
	}
	if _, err := e.Query(clickhouse.InsertValues(db, rows, at, clickhouse.InsertColumns)); err != nil {
		t.Fatalf("insert: %v", err)
	}

	ref16 := func(q string) ([]string, error) {
		if strings.HasPrefix(q, "OPTIMIZE") {
			return nil, s.Conn().Exec(ctx, q)
		}
		rs, err := s.Conn().Query(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var v string
			if err := rs.Scan(&v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rs.Err()
	}
	compare := func(stage string) map[string][]string {
		ref := contents(t, ref16, db)
		for name, got := range map[string]map[string][]string{"from the first schema": contents(t, c.Strings, db), "from empty": contents(t, e.Strings, db)} {
			all := maps.Clone(ref)
			maps.Copy(all, got)
			for _, tb := range slices.Sorted(maps.Keys(all)) {
				if !slices.Equal(got[tb], ref[tb]) {
					t.Errorf("ClickHouse 26 %s, %s: table %s differs from 18.16's:\n%s", name, stage, tb, clickhousetest.Diff(ref[tb], got[tb]))
				}
			}
		}
		return ref
	}
	ref := compare("inserted")
	if n := len(ref["app_access"]) - 1; n < 5 {
		t.Errorf("app_access has %d rows on 18.16: the fixture exercises too little", n)
	}

	// The dashboards' roll-ups and retention, statement for statement as
	// 18.16 received them: every day rolled up, the older half of the days
	// dropped, and their roll-ups with them.
	var sent []string
	s.Trace(func(q string) { sent = append(sent, q) })
	if _, err := s.Rollup(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	parts, err := clickhouse.OpenTestPartitions(s)
	if err != nil || len(parts) < 4 {
		t.Fatalf("partitions %v: %v", parts, err)
	}
	cut, _ := time.Parse("20060102", parts[len(parts)/2])
	if dropped, err := s.DropPartitionsBefore(ctx, cut); err != nil || len(dropped) == 0 {
		t.Fatalf("retention dropped %v: %v", dropped, err)
	}
	if st, err := s.Rollup(ctx, time.Now()); err != nil || len(st.Dropped) == 0 {
		t.Fatalf("roll-ups of dropped days: %+v, %v", st, err)
	}
	s.Trace(nil)
	replayed := 0
	for _, q := range sent {
		u := strings.ToUpper(strings.TrimSpace(q))
		if strings.HasPrefix(u, "SELECT") || strings.HasPrefix(u, "INSERT") && !strings.Contains(u, "SELECT") {
			continue // reads, and the native batch recording a day's fingerprint
		}
		for _, x := range []*clickhousetest.Current{c, e} {
			if err := x.Exec(ctx, q); err != nil {
				t.Fatalf("ClickHouse 26: %v\n%s", err, q)
			}
		}
		replayed++
	}
	ref = compare("rolled up, half the days dropped")
	if replayed < 10 || len(ref["events_hourly"]) < 2 {
		t.Errorf("%d statements replayed, %d rows of events_hourly", replayed, len(ref["events_hourly"])-1)
	}
}
