package eventstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// TestScheduledQueriesStayInTheirTenant: scheduled queries run as the
// rules' reader on the real server, scoped to their tenant. Rules that
// passed rules lint once read another tenant's rows (WHERE tenant !=
// @tenant), other databases, and called url() and file(); each is refused
// by the scoping, and the user they run as refuses the same even if the
// scoping is bypassed.
func TestScheduledQueriesStayInTheirTenant(t *testing.T) {
	addr := testenv.ClickHouse(t)
	user, password, db := testenv.ClickHouseRules(t)
	owner, err := openStore(addr, db)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	ctx := context.Background()
	_ = owner.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+db)
	t.Cleanup(func() { _ = owner.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	if err := owner.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	var rows []clickhouse.Row
	for _, tenant := range []string{"acme", "globex"} {
		for i := range 3 {
			rows = append(rows, clickhouse.Row{Event: &event.Event{ID: fmt.Sprintf("%s-%d", tenant, i), Tenant: tenant, Time: at, Source: "okta",
				Action: event.ActionUserCreate, Outcome: event.OutcomeSuccess, Actor: event.Actor{ID: tenant + "-admin", Type: event.ActorUser},
				Targets: []event.Target{{ID: fmt.Sprintf("%s-u%d", tenant, i), Type: event.TargetUser, Email: "secret@" + tenant + ".example"}}}})
		}
	}
	if err := owner.Insert(ctx, rows, time.Now()); err != nil {
		t.Fatal(err)
	}

	const pwEnv = "SCIMWATCH_TEST_RULES_PASSWORD"
	os.Setenv(pwEnv, password)
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.Database = []string{addr}, db
	cfg.RulesUsername, cfg.RulesPasswordEnv = user, pwEnv
	st, err := clickhouse.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q := eventstore.New(st)
	query := func(sql string) ([]map[string]any, error) {
		var out []map[string]any
		_, err := q.Query(ctx, detect.Query{Rule: "test", SQL: sql, Params: map[string]any{"tenant": "acme"},
			Timeout: 10 * time.Second, MaxRowsToRead: 1000000, MaxRows: 100}, func(r map[string]any) error { out = append(out, r); return nil })
		return out, err
	}
	// The attacks of the issue, through the querier: the other tenant's
	// rows are not there to read; the rest is refused.
	for _, sql := range []string{
		"SELECT id AS key FROM events WHERE tenant = @tenant OR 1 = 1",
		"SELECT id AS key FROM events WHERE tenant = @tenant OR id IN (SELECT id FROM events_unique)",
		"SELECT e.id AS key FROM events AS e ALL INNER JOIN (SELECT tenant, id FROM events) AS o USING id WHERE tenant = @tenant OR 1",
	} {
		got, err := query(sql)
		if err != nil || len(got) != 3 {
			t.Errorf("%s: %d rows, %v; want acme's 3", sql, len(got), err)
		}
		for _, r := range got {
			if !strings.HasPrefix(fmt.Sprint(r["key"]), "acme-") {
				t.Errorf("%s read %v", sql, r)
			}
		}
	}
	for _, attack := range []string{
		"SELECT id AS key, target_emails FROM events WHERE tenant != @tenant",
		"SELECT name AS key FROM system.tables WHERE database != @tenant",
		"SELECT * FROM url('http://127.0.0.1:1/x', CSV, 'a String') WHERE a != @tenant",
		"SELECT * FROM file('x.csv', CSV, 'a String') WHERE a != @tenant",
		"SELECT id AS key FROM " + db + ".events WHERE tenant != @tenant",
	} {
		if _, err := query(attack); err == nil || !strings.Contains(err.Error(), "query refused") {
			t.Errorf("%s: %v, want refused", attack, err)
		}
	}
	// The same past the scoping, straight on the rules user's connection:
	// the server refuses them.
	conn, err := st.QueryConn()
	if err != nil {
		t.Fatal(err)
	}
	for attack, want := range map[string]string{
		"SELECT * FROM url('http://127.0.0.1:1/x', CSV, 'a String')": "readonly",
		"SELECT * FROM file('x.csv', CSV, 'a String')":               "readonly",
		"SELECT * FROM numbers(3)":                                   "readonly",
		"SELECT count() FROM default.system_nothing":                 "Access denied",
		"INSERT INTO events (id) SELECT 'x'":                         "readonly",
		"DROP TABLE events":                                          "readonly",
	} {
		rows, err := conn.Query(ctx, attack)
		if err == nil {
			rows.Close()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("as the rules user, %s: %v, want %q", attack, err, want)
		}
	}
	// And the built-in scheduled rules run as that user, with their limits.
	set, err := rules.Load(rules.Options{}, "../../rules/builtin")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(detect.DefaultConfig(), set, detect.SinkFunc(func(detect.Alert) error { return nil }), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, r := range set.Rules {
		if r.Scheduled == nil {
			continue
		}
		if _, err := q.Query(ctx, eng.ScheduledQuery(r, "acme", time.Now()), func(map[string]any) error { return nil }); err != nil {
			t.Errorf("%s as the rules user: %v", r.ID, err)
		}
		ran++
	}
	if ran < 8 {
		t.Errorf("%d scheduled rules ran, want every built-in one", ran)
	}
}
