package clickhouse

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/ingest/testenv"
)

// chdb is a current ClickHouse (26, chDB in-process, run by
// testdata/chdb_runner.py) that takes the statements scimwatch sends.
type chdb struct {
	db  string
	in  io.WriteCloser
	out *bufio.Reader
}

func openCHDB(t *testing.T, db string) *chdb {
	t.Helper()
	cmd := exec.Command(testenv.CHDB(t), "testdata/chdb_runner.py", t.TempDir())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	c := &chdb{db: db, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS " + db,
		"CREATE TABLE IF NOT EXISTS " + db + ".schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = ReplacingMergeTree() ORDER BY version"} {
		if _, err := c.query(q); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// query runs one statement; rows as JSONCompact gives them.
func (c *chdb) query(sql string) ([][]any, error) {
	b, _ := json.Marshal(map[string]string{"sql": sql})
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("chdb runner: %w", err)
	}
	var ans struct {
		Rows  [][]any `json:"rows"`
		Error string  `json:"error"`
	}
	if err := json.Unmarshal(line, &ans); err != nil {
		return nil, err
	}
	if ans.Error != "" {
		return nil, errors.New(ans.Error)
	}
	return ans.Rows, nil
}

func (c *chdb) exec(_ context.Context, sql string) error { _, err := c.query(sql); return err }

func (c *chdb) count(_ context.Context, sql string) (uint64, error) {
	rows, err := c.query(sql)
	if err != nil || len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("a count: %v %v", rows, err)
	}
	return strconv.ParseUint(fmt.Sprint(rows[0][0]), 10, 64)
}

func (c *chdb) partitions(context.Context) ([]string, error) {
	rows, err := c.query("SELECT DISTINCT partition FROM system.parts WHERE database = '" + c.db + "' AND table = 'events' AND active ORDER BY partition")
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[0]))
	}
	return out, err
}

// insert writes rows into cols as the Store does, as SQL literals: the
// same columns, the same values.
func (c *chdb) insert(rows []Row, ingested time.Time, cols string) error {
	ncols := strings.Count(cols, ",") + 1
	cs := newColumns(len(rows))
	for i := range rows {
		cs.add(&rows[i], uint64(ingested.UnixMilli()))
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + c.db + ".events (" + cols + ") VALUES ")
	all := cs.all()[:ncols]
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j, col := range all {
			if j > 0 {
				b.WriteByte(',')
			}
			literal(&b, reflect.ValueOf(col).Index(i))
		}
		b.WriteByte(')')
	}
	_, err := c.query(b.String())
	return err
}

// literal writes v as a ClickHouse literal.
func literal(b *strings.Builder, v reflect.Value) {
	switch x := v.Interface().(type) {
	case string:
		b.WriteByte('\'')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(x))
		b.WriteByte('\'')
	case time.Time:
		b.WriteString(strconv.FormatInt(x.Unix(), 10))
	case []string:
		b.WriteByte('[')
		for i := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			literal(b, reflect.ValueOf(x[i]))
		}
		b.WriteByte(']')
	default:
		fmt.Fprint(b, x)
	}
}

// fixture is the events of the vendor-shaped records every normalizer is
// tested on, in the time order the issue 19 tests import them.
func fixture(t *testing.T) []Row {
	t.Helper()
	var rows []Row
	for _, f := range []string{"okta/testdata/app-users.ndjson", "okta/testdata/vendor-shaped.ndjson", "entra/testdata/hr-inbound.ndjson",
		"entra/testdata/provisioning.ndjson", "scim/testdata/app-writes.ndjson", "scim/testdata/requests.ndjson", "gworkspace/testdata/exports.ndjson"} {
		b, err := os.ReadFile(filepath.Join("../source", f))
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
				rows = append(rows, Row{Event: &e, Topic: f, Offset: int64(len(rows))})
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
	firstCols := firstColumns

	// ClickHouse 18.16: the first schema, half the events, every migration
	// since, the other half.
	s := openTest(t)
	db := s.Database()
	migrateTo(t, s, 1)
	if err := s.insert(ctx, old, at, firstCols); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, later, at); err != nil {
		t.Fatal(err)
	}

	ms, err := Migrations(db)
	if err != nil {
		t.Fatal(err)
	}
	// ClickHouse 26: the same, statement for statement.
	c := openCHDB(t, db)
	for _, m := range ms {
		if m.Version == 2 {
			if err := c.insert(old, at, firstCols); err != nil {
				t.Fatalf("insert under the first schema: %v", err)
			}
		}
		if err := applyTo(ctx, c, m); err != nil {
			t.Fatalf("ClickHouse 26: %v", err)
		}
	}
	if err := c.insert(later, at, insertColumns); err != nil {
		t.Fatalf("insert: %v", err)
	}
	// And from an empty database, every event inserted after.
	e := openCHDB(t, db)
	for _, m := range ms {
		if err := applyTo(ctx, e, m); err != nil {
			t.Fatalf("ClickHouse 26 from empty: %v", err)
		}
	}
	if err := e.insert(rows, at, insertColumns); err != nil {
		t.Fatalf("insert: %v", err)
	}

	text := func(c *chdb) func(string) ([]string, error) {
		return func(q string) ([]string, error) {
			rows, err := c.query(q)
			var out []string
			for _, r := range rows {
				out = append(out, fmt.Sprint(r[0]))
			}
			return out, err
		}
	}
	ref := contents(t, func(q string) ([]string, error) {
		if strings.HasPrefix(q, "OPTIMIZE") {
			return nil, s.conn.Exec(ctx, q)
		}
		rs, err := s.conn.Query(ctx, q)
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
	}, db)
	for name, got := range map[string]map[string][]string{"from the first schema": contents(t, text(c), db), "from empty": contents(t, text(e), db)} {
		for _, tb := range slices.Sorted(mapsKeys(ref, got)) {
			if !slices.Equal(got[tb], ref[tb]) {
				t.Errorf("ClickHouse 26 %s: table %s differs from 18.16's:\n%s", name, tb, diffLines(ref[tb], got[tb]))
			}
		}
	}
	if n := len(ref["app_access"]) - 1; n < 5 {
		t.Errorf("app_access has %d rows on 18.16: the fixture exercises too little", n)
	}
}

func mapsKeys(ms ...map[string][]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

// diffLines shows the lines of want missing from got (-) and those of
// got not in want (+).
func diffLines(want, got []string) string {
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
