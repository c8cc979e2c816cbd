package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// historyConfig writes a detection config on database db, with the
// generated tenants' time zones.
func writeHistoryConfig(t *testing.T, addr, db, extra string) string {
	t.Helper()
	return writeFile(t, "detect.yaml", fmt.Sprintf(`calendar:
  tenants:
    acme: {timezone: America/New_York}
    globex: {timezone: Europe/Berlin}
    initech: {timezone: Asia/Tokyo}
clickhouse:
  addrs: [%s]
  database: %s
  compression: none
%s`, addr, db, extra))
}

func chQuery(t *testing.T, addr, db, q string) string {
	t.Helper()
	st, err := clickhouse.Open(mustCH(addr, db), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn, err := st.QueryConn()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	cols := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = newOf(c.ScanType())
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			fmt.Fprintf(&b, "%v\t", deref(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestImportCommand: import loads raw exports of every source through the
// normalizers, reports what it rejects at FILE:LINE, and importing the
// same files again changes no result: not the events, not the account
// state derived from them.
func TestImportCommand(t *testing.T) {
	addr := testenv.ClickHouse(t)
	db := testenv.Name("import")
	cfg := writeHistoryConfig(t, addr, db, "")
	bad := writeFile(t, "bad.ndjson", `{"time":"2026-11-20T06:00:00Z","request_id":"ok-1","client_id":"c","method":"POST","path":"/scim/v2/Users","status":201,"request":{"userName":"a@x"},"response":{"id":"u-a"}}
{"time":"2026-11-20T06:00:01Z","request_id":"bad-1",
not json at all
{"eventType":"user.session.start","uuid":"no-time"}
`)
	good := []string{"../../ingest/source/okta/testdata/okta-systemlog.ndjson", "../../ingest/source/entra/testdata/graph-directoryaudits.json",
		"../../ingest/source/scim/testdata/requests.ndjson"}
	args := append([]string{"import", "--config", cfg, "--tenant", "acme"}, append(good, bad)...)
	code, _, errs := runCLI(t, "", args...)
	if code != 1 {
		t.Fatalf("exit %d, want 1 for the rejected records; stderr %s", code, errs)
	}
	for _, want := range []string{bad + ":2:", bad + ":3:", bad + ":4:", "records rejected"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	m := regexp.MustCompile(`(\d+) events imported`).FindStringSubmatch(errs)
	if m == nil || m[1] == "0" {
		t.Fatalf("no count of events imported: %s", errs)
	}
	// What normalize makes of the same files: the distinct events (the
	// samples repeat some ids).
	_, norm, _ := runCLI(t, "", append([]string{"normalize", "--tenant", "acme"}, append(good, bad)...)...)
	ids := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(norm), "\n") {
		var ev struct{ Tenant, ID string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		ids[ev.Tenant+"/"+ev.ID] = true
	}
	if fmt.Sprint(strings.Count(norm, "\n")) != m[1] {
		t.Errorf("import said %s events, normalize makes %d", m[1], strings.Count(norm, "\n"))
	}
	const stateQ = `SELECT tenant, user_id, argMaxMerge(status), maxMerge(last_used), minMerge(created), argMaxMerge(email)
		FROM account_days GROUP BY tenant, user_id ORDER BY tenant, user_id`
	events := chQuery(t, addr, db, "SELECT count(), uniqExact(tenant, id) FROM events FINAL")
	state := chQuery(t, addr, db, stateQ)
	if fields := strings.Fields(events); len(fields) != 2 || fields[0] != fmt.Sprint(len(ids)) || fields[1] != fields[0] {
		t.Errorf("events in ClickHouse %q, want %d distinct", events, len(ids))
	}
	if strings.Count(state, "\n") < 5 {
		t.Errorf("account state has %d accounts:\n%s", strings.Count(state, "\n"), state)
	}
	// Again: the same events (not twice as many), the same account state.
	code, _, errs = runCLI(t, "", append([]string{"import", "--config", cfg, "--tenant", "acme"}, good...)...)
	if !strings.Contains(errs, m[1][:1]) || code != 1 {
		t.Fatalf("second import: exit %d: %s", code, errs)
	}
	if got := chQuery(t, addr, db, "SELECT count(), uniqExact(tenant, id) FROM events FINAL"); got != events {
		t.Errorf("events after importing again: %q, before %q", got, events)
	}
	if got := chQuery(t, addr, db, stateQ); got != state {
		t.Errorf("account state changed by importing again:\n%s\nbefore:\n%s", got, state)
	}
	if code, _, errs := runCLI(t, "", "import", "--tenant", "acme", good[0]); code != 2 || !strings.Contains(errs, "--config is required") {
		t.Errorf("no config: %d %q", code, errs)
	}
}

var cliHistory struct {
	once   sync.Once
	db     string
	plants []string // rule tenant key
	err    string
}

// importedHistory generates 45 days of history with planted anomalies and
// imports it with the commands a user runs (once per test binary).
func importedHistory(t *testing.T) (addr, db string, plants [][3]string) {
	t.Helper()
	addr = testenv.ClickHouse(t)
	cliHistory.once.Do(func() {
		cliHistory.db = testenv.Name("cli_history")
		dir := t.TempDir()
		code, out, errs := runCLI(t, "", "generate", "history", "--out", dir, "--days", "45", "--end", "2026-11-25T00:00:00Z", "--plant", "--seed", "3")
		if code != 0 {
			cliHistory.err = fmt.Sprintf("generate history: %d %s", code, errs)
			return
		}
		cfg := writeHistoryConfig(t, addr, cliHistory.db, "")
		for _, tn := range [][2]string{{"acme", "okta"}, {"globex", "okta"}, {"initech", "entra"}, {"umbrella", "gworkspace"}} {
			code, _, errs := runCLI(t, "", "import", "--config", cfg, "--tenant", tn[0],
				filepath.Join(dir, tn[0]+"."+tn[1]+".ndjson"), filepath.Join(dir, tn[0]+".scim.ndjson"))
			if code != 0 {
				cliHistory.err = fmt.Sprintf("import %s: %d %s", tn[0], code, errs)
				return
			}
		}
		_, planted, _ := strings.Cut(out, "Planted:\n")
		for _, l := range strings.Split(strings.TrimSpace(planted), "\n") {
			f := strings.Fields(l) // rule tenant T key K time
			cliHistory.plants = append(cliHistory.plants, f[0]+" "+f[2]+" "+f[4])
		}
	})
	if cliHistory.err != "" {
		t.Fatal(cliHistory.err)
	}
	for _, p := range cliHistory.plants {
		f := strings.Fields(p)
		plants = append(plants, [3]string{f[0], f[1], f[2]})
	}
	return addr, cliHistory.db, plants
}

func readAlerts(t *testing.T, out string) []detect.Alert {
	t.Helper()
	var alerts []detect.Alert
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var a detect.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		alerts = append(alerts, a)
	}
	return alerts
}

var historyRules = []string{"new-provisioning-source", "role-change-rate-anomaly", "off-hours-for-actor", "stale-account", "dormant-admin", "never-activated"}

// TestBacktestCommand: history generated and imported with the commands
// a user runs; backtest over its last week finds each planted anomaly and
// nothing else from the history-aware rules, over the three weeks before
// it finds nothing, and reports a rule over its budget.
func TestBacktestCommand(t *testing.T) {
	addr, db, all := importedHistory(t)
	cfg := writeHistoryConfig(t, addr, db, "")
	// The plants of these rules (the history also holds the
	// deprovisioning and SCIM ones, which detect/eventstore's tests find).
	var plants [][3]string
	for _, p := range all {
		if slices.Contains(historyRules, p[0]) {
			plants = append(plants, p)
		}
	}
	if len(plants) != 8 || len(all) != 45 {
		t.Fatalf("plants %v", all)
	}
	args := []string{"rules", "backtest", "--config", cfg, "--rules", "../../rules/builtin", "--from", "2026-11-18", "--to", "2026-11-25"}
	code, out, errs := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got []string
	for _, a := range readAlerts(t, out) {
		if slices.Contains(historyRules, a.Rule) {
			got = append(got, a.Rule+" "+a.Tenant+" "+a.Key)
		}
	}
	var want []string
	for _, p := range plants {
		want = append(want, p[0]+" "+p[1]+" "+p[2])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("history-aware alerts %q, want the plants %q; stderr:\n%s", got, want, errs)
	}
	for _, w := range []string{"RULE", "new-provisioning-source        new_term", "per day: 2026-11-", "e.g. 2026-11-"} {
		if !strings.Contains(errs, w) {
			t.Errorf("summary lacks %q:\n%s", w, errs)
		}
	}

	// The normal weeks before.
	quiet := append([]string{"rules", "backtest", "--config", cfg, "--from", "2026-10-28", "--to", "2026-11-18"}, ruleFlags(historyRules)...)
	code, out, errs = runCLI(t, "", quiet...)
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("normal weeks: exit %d, alerts:\n%s\n%s", code, out, errs)
	}

	// One tenant, one rule.
	code, out, _ = runCLI(t, "", "rules", "backtest", "--config", cfg, "--rules", "../../rules/builtin", "--rule", "stale-account",
		"--tenant", "globex", "--from", "2026-11-18", "--to", "2026-11-25")
	if code != 0 || out != "" {
		t.Errorf("globex has no stale account: exit %d %s", code, out)
	}

	// A rule over its budget: exit 3, the days said.
	noisy := writeFile(t, "noisy.yaml", `rules:
  - id: every-login
    title: A login
    severity: info
    when: action == "user.login"
    max_alerts_per_day: 100
`)
	code, _, errs = runCLI(t, "", "rules", "backtest", "--config", cfg, "--rules", noisy, "--from", "2026-11-23", "--to", "2026-11-25")
	if code != 3 || !strings.Contains(errs, "(over budget)") {
		t.Errorf("over budget: exit %d\n%s", code, errs)
	}
	if code, _, errs := runCLI(t, "", "rules", "backtest", "--config", cfg, "--rules", noisy, "--rule", "nope", "--from", "2026-11-23", "--to", "2026-11-25"); code != 2 || !strings.Contains(errs, "--rule nope") {
		t.Errorf("unknown rule: %d %s", code, errs)
	}
}

func ruleFlags(ids []string) []string {
	out := []string{"--rules", "../../rules/builtin"}
	for _, id := range ids {
		out = append(out, "--rule", id)
	}
	return out
}

// TestDetectWarmsFromHistory: detect warms the rules that learn from
// ClickHouse up to its checkpoint before it judges: a provisioning client
// used from a new network fires at once (cold, it would wait a week of
// history), one of its usual networks does not; at exit the checkpoint is
// where the stream got to.
func TestDetectWarmsFromHistory(t *testing.T) {
	addr, db, _ := importedHistory(t)
	name := testenv.Name("detector")
	cfg := writeHistoryConfig(t, addr, db, fmt.Sprintf("history: {checkpoint: %s, checkpoint_every: 1s}\ndetect: {allowed_lateness: 1s}\n", name))
	src := mustHistory(t, addr, db)
	if err := src.SaveCheckpoint(context.Background(), name, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	l := startLive(t, "detect", "--rules", "../../rules/builtin", "--config", cfg, "--log-level", "info")
	l.waitError(t, "rules warmed from history")
	scim := func(id, at, ip, ua string) string {
		return fmt.Sprintf(`{"time":%q,"tenant":"acme","request_id":%q,"client_id":"acme-okta-scim-1","source_ip":%q,"user_agent":%q,"method":"PATCH","path":"/scim/v2/Users/scim-acme-7","status":200,"request":{"Operations":[{"op":"replace","path":"title","value":"Lead"}]}}`,
			at, id, ip, ua)
	}
	l.write(t,
		scim("usual", "2026-11-25T01:00:00.000Z", "52.11.101.77", "Okta SCIM Client 2.0"),
		scim("curl", "2026-11-25T01:05:00.000Z", "203.0.113.250", "python-requests/2.31"))
	l.waitOutput(t, `"rule":"new-provisioning-source"`)
	if code := l.close(t); code != 0 {
		t.Fatalf("exit %d: %s", code, l.err.String())
	}
	alerts := readAlerts(t, l.out.String())
	for _, a := range alerts {
		if a.Rule == "new-provisioning-source" && !slices.Equal(a.Events, []string{"curl"}) {
			t.Errorf("alert on %v, want only the new network's request", a.Events)
		}
	}
	cp, ok, err := src.Checkpoint(context.Background(), name)
	if err != nil || !ok || !cp.Equal(time.Date(2026, 11, 25, 1, 5, 0, 0, time.UTC)) {
		t.Errorf("checkpoint after exit: %v %v %v", cp, ok, err)
	}
}

func newOf(t reflect.Type) any { return reflect.New(t).Interface() }

func deref(v any) any { return reflect.ValueOf(v).Elem().Interface() }

func mustHistory(t *testing.T, addr, db string) *eventstore.Store {
	t.Helper()
	st, err := clickhouse.Open(mustCH(addr, db), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return eventstore.New(st)
}

// waitError waits for the command's stderr to contain want.
func (l *liveRun) waitError(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(l.err.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on stderr; stderr %q", want, l.err.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
