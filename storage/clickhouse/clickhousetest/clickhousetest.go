// Package clickhousetest runs scimwatch's statements on a current
// ClickHouse (26, chDB) beside Debian's 18.16, for the tests that show
// both give the same results.
package clickhousetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Current is a ClickHouse 26 session holding one scimwatch database. It
// is a clickhouse.Migrator: migrations apply to it statement for
// statement as Migrate applies them to 18.16.
type Current struct {
	*testenv.CurrentClickHouse
	DB string
}

// OpenCurrent starts a ClickHouse 26 session with database db and its
// table of applied migrations, as Migrate's bootstrap creates them.
func OpenCurrent(t testing.TB, db string) *Current {
	t.Helper()
	c := &Current{CurrentClickHouse: testenv.OpenCurrentClickHouse(t), DB: db}
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS " + db,
		"CREATE TABLE IF NOT EXISTS " + db + ".schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = ReplacingMergeTree() ORDER BY version"} {
		if _, err := c.Query(q); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Exec runs a statement.
func (c *Current) Exec(_ context.Context, sql string) error { _, err := c.Query(sql); return err }

// Count runs a query of one number.
func (c *Current) Count(_ context.Context, sql string) (uint64, error) {
	rows, err := c.Query(sql)
	if err != nil || len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("a count: %v %v", rows, err)
	}
	return strconv.ParseUint(fmt.Sprint(rows[0][0]), 10, 64)
}

// Partitions lists the events table's partitions.
func (c *Current) Partitions(context.Context) ([]string, error) {
	return c.Strings("SELECT DISTINCT partition FROM system.parts WHERE database = '" + c.DB + "' AND table = 'events' AND active ORDER BY partition")
}

// Strings runs a query and returns its first column as text.
func (c *Current) Strings(sql string) ([]string, error) {
	rows, err := c.Query(sql)
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[0]))
	}
	return out, err
}

// Migrate applies every migration.
func (c *Current) Migrate(ctx context.Context) error {
	ms, err := clickhouse.Migrations(c.DB)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := clickhouse.Apply(ctx, c, m); err != nil {
			return fmt.Errorf("ClickHouse 26: %w", err)
		}
	}
	return nil
}

// Twin is a database on ClickHouse 18.16 and one on ClickHouse 26 holding
// the same data, to run the same statements on both.
type Twin struct {
	Current *Current
	db      string
	http    string // 18.16's HTTP address
}

// NewTwin migrates a ClickHouse 26 database from empty and copies into it
// what s's database holds, as of now: the tables scimwatch writes
// itself, row for row (the events, alerts, roll-ups...), while 26's own
// materialized views compute the rest from them. A day rolled up and
// current on 18.16 is recorded rolled up and current on 26 too, with the
// fingerprint of 26's own parts, so the dashboards read the same days
// from the roll-ups on both.
func NewTwin(t testing.TB, s *clickhouse.Store) *Twin {
	t.Helper()
	db := s.Database()
	tw := &Twin{Current: OpenCurrent(t, db), db: db, http: testenv.ClickHouseHTTP(t)}
	c := tw.Current
	if err := c.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	views, err := c.Strings("SELECT create_table_query FROM system.tables WHERE database = '" + db + "' AND engine = 'MaterializedView'")
	if err != nil {
		t.Fatal(err)
	}
	fed := map[string]bool{}
	for _, v := range views {
		if m := viewTarget.FindStringSubmatch(v); m != nil {
			fed[m[1]] = true
		}
	}
	// Rows still in a Buffer table on 18.16 go to its table first.
	buffers, err := c.Strings("SELECT name FROM system.tables WHERE database = '" + db + "' AND engine = 'Buffer'")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buffers {
		if _, err := tw.old("OPTIMIZE TABLE " + db + "." + b); err != nil {
			t.Fatalf("flushing %s: %v", b, err)
		}
	}
	tables, err := c.Strings("SELECT name FROM system.tables WHERE database = '" + db + "' AND engine LIKE '%MergeTree' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if fed[tb] || tb == "schema_migrations" || tb == "rollup_days" {
			continue
		}
		cols, err := c.Strings("SELECT name FROM system.columns WHERE database = '" + db + "' AND table = '" + tb + "' ORDER BY position")
		if err != nil {
			t.Fatal(err)
		}
		list := strings.Join(cols, ", ")
		src := tw.url("SELECT " + list + " FROM " + db + "." + tb + " FORMAT Native")
		if _, err := c.Query("INSERT INTO " + db + "." + tb + " (" + list + ") SELECT " + list + " FROM url('" + src + "', Native)"); err != nil {
			t.Fatalf("copying %s to ClickHouse 26: %v", tb, err)
		}
	}
	// The days whose roll-ups 18.16 reads: rolled up at the fingerprint
	// their parts have now.
	current, err := tw.old("SELECT r.partition FROM (SELECT partition, fingerprint FROM " + db + ".rollup_days FINAL) AS r " +
		"ALL INNER JOIN (SELECT partition, sum(cityHash64(name)) AS fingerprint FROM system.parts WHERE database = '" + db + "' AND table = 'events' AND active GROUP BY partition) AS p USING partition WHERE r.fingerprint = p.fingerprint")
	if err != nil {
		t.Fatal(err)
	}
	if days := strings.Fields(current); len(days) > 0 {
		if _, err := c.Query("INSERT INTO " + db + ".rollup_days (partition, fingerprint, rolled_ns) SELECT partition, sum(cityHash64(name)), 1 FROM system.parts WHERE database = '" + db +
			"' AND table = 'events' AND active AND partition IN ('" + strings.Join(days, "', '") + "') GROUP BY partition"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Query("USE " + db); err != nil {
		t.Fatal(err)
	}
	return tw
}

// client bounds a request to 18.16: a stalled server fails the test, not
// the whole run.
var client = &http.Client{Timeout: 2 * time.Minute}

// viewTarget is the table a materialized view writes to.
var viewTarget = regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW \S+ TO \w+\.(\w+)`)

func (tw *Twin) url(sql string) string {
	return "http://" + tw.http + "/?" + url.Values{"query": {sql}}.Encode()
}

// old runs sql on 18.16 in the twin's database and returns the result as
// the server formats it, TabSeparated.
func (tw *Twin) old(sql string) (string, error) {
	u := "http://" + tw.http + "/?" + url.Values{"database": {tw.db}, "default_format": {"TabSeparated"}}.Encode()
	resp, err := client.Post(u, "text/plain", strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ClickHouse 18.16: %s", strings.SplitN(string(b), "\n", 2)[0])
	}
	return string(b), nil
}

// insertSelect is a statement that inserts a query's result: its query is
// what two servers must agree on.
var insertSelect = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+\S+\s*(\([^)]*\))?\s*(SELECT\b.*|WITH\b.*)$`)

// Compare runs a query (of an INSERT ... SELECT, its SELECT) on both in
// the twin's database, tables unqualified or qualified, and reports where
// their results differ, rows in any order; a query of the server's own
// state (serverState) must run on both, its rows are not compared. It
// returns the number of rows on 18.16.
func (tw *Twin) Compare(t testing.TB, sql string) int {
	t.Helper()
	if m := insertSelect.FindStringSubmatch(sql); m != nil {
		sql = m[2]
	}
	want, err := tw.old(sql)
	if err != nil {
		t.Errorf("%v\n%s", err, sql)
		return 0
	}
	got, err := tw.Current.Text(sql)
	if err != nil {
		t.Errorf("ClickHouse 26: %v\n%s", err, sql)
		return 0
	}
	w, g := lines(want), lines(got)
	if serverState(sql) {
		return len(w)
	}
	if !slices.Equal(w, g) {
		t.Errorf("ClickHouse 26 differs from 18.16:\n%s%s", Diff(w, g), sql)
	}
	return len(w)
}

// serverState: sql reads nothing but a server's own state, its parts
// (system.parts) or the roll-ups' record of them (rollup_days), which
// differ between two servers holding the same rows. A query that reads
// them to choose what to read elsewhere (the dashboards') is compared.
func serverState(sql string) bool {
	u := strings.ToUpper(sql)
	return strings.Count(u, "SELECT") == 1 && (strings.Contains(u, "SYSTEM.") || strings.Contains(u, "ROLLUP_DAYS"))
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	out := strings.Split(s, "\n")
	slices.Sort(out)
	return out
}

// Diff shows the lines of want missing from got (-) and those of got not
// in want (+).
func Diff(want, got []string) string {
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

// Queries returns the queries among statements, those Compare takes:
// SELECTs (and WITH ... SELECT) and the SELECTs of INSERT ... SELECT.
func Queries(statements []string) []string {
	var out []string
	for _, s := range statements {
		u := strings.ToUpper(strings.TrimSpace(s))
		if strings.HasPrefix(u, "SELECT") || strings.HasPrefix(u, "WITH") || insertSelect.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}
