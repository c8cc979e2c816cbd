package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/dashboards"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/internal/bench"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/kafka/embedded"
	"github.com/scimwatch/scimwatch/service"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// oktaGrant is an Okta System Log privilege grant of Super Administrator to
// user, made now (the detector evaluates what is current).
func oktaGrant(id, user string) []byte { return bench.OktaGrantRecord(id, user) }

func createTopic(t *testing.T, broker, name string, partitions int) {
	t.Helper()
	testenv.CreateTopic(t, broker, name, partitions)
}

func produceTo(t *testing.T, broker, topic string, values ...[]byte) {
	t.Helper()
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: topic, Transport: &kafkago.Transport{}, Balancer: &kafkago.Hash{},
		BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafkago.RequireAll}
	defer w.Close()
	msgs := make([]kafkago.Message, len(values))
	for i, v := range values {
		msgs[i] = kafkago.Message{Key: []byte("acme"), Value: v} // a tenant's records on one partition
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// runningService is scimwatch run in the test's process.
type runningService struct {
	cancel context.CancelFunc
	code   chan int
	errs   *syncBuffer
}

func startRun(t *testing.T, cfg string) *runningService {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningService{cancel: cancel, code: make(chan int, 1), errs: &syncBuffer{}}
	go func() {
		s.code <- run(ctx, []string{"run", "--config", cfg, "--log-level", "debug"}, strings.NewReader(""), &syncBuffer{}, s.errs)
	}()
	t.Cleanup(cancel)
	return s
}

func (s *runningService) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.code:
		if code != 0 {
			t.Fatalf("scimwatch run exited %d:\n%s", code, s.errs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("scimwatch run did not stop within 60 s:\n%s", s.errs.String())
	}
}

// TestRunEndToEnd: an Okta record written to Kafka is ingested into
// ClickHouse and its alert reaches Slack; the service is stopped and
// started again (the detector re-reads its window) and a second grant
// alerts once, the first not again, and ClickHouse holds each event once.
func TestRunEndToEnd(t *testing.T) {
	broker, chAddr := testenv.Kafka(t), testenv.ClickHouse(t)
	topic, dlq, group, db := testenv.Name("audit"), testenv.Name("dead"), testenv.Name("group"), testenv.Name("scimwatch_run")
	createTopic(t, broker, topic, 2)
	createTopic(t, broker, dlq, 1)
	ws := fakeslack.Start()
	defer ws.Stop()
	os.Setenv("SCIMWATCH_TEST_SLACK_TOKEN", "xoxb-test")
	cfg := writeFile(t, "scimwatch.yaml", fmt.Sprintf(`kafka:
  brokers: [%s]
  group: %s
  topics: [{name: %s, source: auto, tenant: acme}]
  dead_letter_topic: %s
clickhouse: {addrs: [%s], database: %s, compression: none}
batch: {max_rows: 500, max_wait: 200ms}
http: {listen: "127.0.0.1:0"}
shutdown_timeout: 10s
rules: [../../rules/builtin]
detect: {allowed_lateness: 1s}
history: {checkpoint: %s}
alerting:
  store: clickhouse
  group_by: [rule, tenant, key]
  group_wait: 0s
  group_interval: 0s
  slack:
    api_url: %s
    token_env: SCIMWATCH_TEST_SLACK_TOKEN
    channel: "#soc"
`, broker, group, topic, dlq, chAddr, db, group, ws.URL()))
	t.Cleanup(func() { clickhouse.DropDatabase(mustCH(chAddr, db)) })

	grants := func() map[string]int {
		n := map[string]int{}
		for _, m := range ws.Messages("") {
			if m.ThreadTS != "" || !strings.Contains(m.Text, "Super Administrator") {
				continue
			}
			for _, u := range []string{"alice", "bob"} {
				if strings.Contains(m.Text, u) {
					n[u]++
				}
			}
		}
		return n
	}
	waitFor := func(s *runningService, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, s.errs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s := startRun(t, cfg)
	produceTo(t, broker, topic, oktaGrant("grant-alice", "alice"))
	waitFor(s, "alice's grant in Slack", func() bool { return grants()["alice"] == 1 })
	store, err := clickhouse.Open(mustCH(chAddr, db), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	count := func() uint64 {
		var n uint64
		_ = store.Conn().QueryRow(context.Background(), "SELECT uniqExact(id) FROM "+db+".events").Scan(&n)
		return n
	}
	waitFor(s, "alice's grant in ClickHouse", func() bool { return count() == 1 })
	s.stop(t)

	// Again: the detector re-reads the partition's window (alice's grant
	// among it), then bob's grant comes.
	s = startRun(t, cfg)
	waitFor(s, "the detector to re-read its window", func() bool { return strings.Contains(s.errs.String(), "detector reading partition") })
	produceTo(t, broker, topic, oktaGrant("grant-bob", "bob"))
	waitFor(s, "bob's grant in Slack", func() bool { return grants()["bob"] == 1 })
	waitFor(s, "bob's grant in ClickHouse", func() bool { return count() == 2 })
	// Whatever alice's replay was going to do, it has done by the time
	// bob's alert (after it on the same partition) is out.
	if g := grants(); g["alice"] != 1 || g["bob"] != 1 {
		t.Errorf("Slack messages by user: %v, want one each", g)
	}
	var rows uint64
	if err := store.Conn().QueryRow(context.Background(), "SELECT count() FROM "+db+".events FINAL").Scan(&rows); err != nil || rows != 2 {
		t.Errorf("%d event rows (%v), want 2", rows, err)
	}
	s.stop(t)
}

// TestRunConfigErrors: every mistake of a run config is reported at once,
// each with its place.
func TestRunConfigErrors(t *testing.T) {
	cfg := writeFile(t, "bad.yaml", `kafka:
  brokers: [nohost]
  group: g
  topics: [{name: audit, source: okta}, {name: audit}]
clickhouse: {addrs: [127.0.0.1:19000]}
detect: {max_keys: -1}
detector: {group: g, commit_every: 0s}
components: {ingest: true, detect: true}
alerting: {group_by: [target]}
unknown_key: 1
`)
	code, _, errs := runCLI(t, "", "run", "--config", cfg)
	for _, want := range []string{
		"line 10: unknown key `unknown_key`",
		`kafka.brokers[0]: "nohost" is not host:port`,
		`kafka.topics[1].name: topic "audit" is listed twice`,
		"detect.max_keys: must be positive",
		"rules: at least one rules directory is required",
		"detector: replay must not be negative, commit_every must be positive",
		"detector.group: must differ from kafka.group",
		"group_by",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors lack %q:\n%s", want, errs)
		}
	}
	if code != 1 {
		t.Errorf("exit %d", code)
	}
}

// TestProductionExample: the README's production config
// (testdata/production.yaml, included verbatim in the README) is the one
// file every command that takes --config accepts: each loads it (the
// context is cancelled, so that what would connect to the example's hosts
// stops right after) and none reports a config error.
func TestProductionExample(t *testing.T) {
	const prod = "testdata/production.yaml"
	if _, err := service.Load(prod, service.UsesService); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(prod)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readme(t), strings.TrimSpace(string(b))) {
		t.Error("the README's production example is not testdata/production.yaml")
	}
	rec := writeFile(t, "rec.ndjson", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	taken := map[string]bool{}
	for _, args := range [][]string{
		{"run"}, {"ingest"}, {"migrate"}, {"import", "--tenant", "acme", rec}, {"report"},
		{"detect", "--rules", "../../rules/builtin"}, {"replay", "--rules", "../../rules/builtin", rec},
		{"rules", "lint", "../../rules/builtin"}, {"rules", "test", "../../rules/builtin"},
		{"rules", "backtest", "--rules", "../../rules/builtin", "--from", "2026-11-01", "--to", "2026-11-02"},
		{"silence", "list"}, {"silence", "add", "--rule", "stale-account", "--duration", "1h", "--comment", "c"}, {"silence", "expire", "x"},
		{"simulate", "--days", "1", "--rate", "1", "--brokers", "127.0.0.1:1"}, {"collect"}, {"scim-gateway"},
	} {
		cmd, _ := find(args)
		taken[cmd.name] = true
		var out, errb bytes.Buffer
		argv := append(append([]string(nil), args[:len(strings.Fields(cmd.name))]...), "--config", prod)
		argv = append(argv, args[len(strings.Fields(cmd.name)):]...)
		code := run(ctx, argv, strings.NewReader(""), &out, &errb)
		if strings.Contains(errb.String(), "--config") || code == 2 {
			t.Errorf("scimwatch %s: exit %d:\n%s", strings.Join(argv, " "), code, errb.String())
		}
		// (rules test runs too, but the example's calendar puts acme in New
		// York, where some inline tests' "office hours" are not.)
		if cmd.name == "rules lint" && code != 0 {
			t.Errorf("scimwatch %s: exit %d:\n%s", strings.Join(argv, " "), code, errb.String())
		}
	}
	// Every command that takes --config is above.
	for _, c := range commands {
		var help bytes.Buffer
		c.run(context.Background(), &cmdIO{stdin: strings.NewReader(""), stdout: &help, stderr: &help}, []string{"--help"})
		if strings.Contains(help.String(), "\n  --config ") && !taken[c.name] && !strings.HasPrefix(c.name, "bench") {
			t.Errorf("scimwatch %s takes --config and is not tried on the production example", c.name)
		}
	}
}

// TestDashboardPrometheusQueries: every Prometheus panel of the pipeline
// dashboard is a valid query on real Prometheus scraping a running
// scimwatch run, and the ingest rate and lag panels show it.
func TestDashboardPrometheusQueries(t *testing.T) {
	promURL, targets := testenv.Prometheus(t)
	chAddr := testenv.ClickHouse(t)
	ek, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer ek.Close()
	broker := ek.Brokers()[0]
	createTopic(t, broker, "audit", 2)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	db := testenv.Name("scimwatch_prom")
	t.Cleanup(func() { clickhouse.DropDatabase(mustCH(chAddr, db)) })
	cfg := service.DefaultConfig()
	cfg.Kafka.Brokers, cfg.Kafka.Group = []string{broker}, "g"
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: "audit", Source: "auto", Tenant: "acme"}}
	cfg.ClickHouse = mustCH(chAddr, db)
	cfg.HTTP.Listen = addr
	cfg.Batch.MaxWait = 200 * time.Millisecond
	cfg.Rules = []string{"../../rules/builtin"}
	cfg.History.Store = "none"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, "", cfg, service.RunOptions{Watch: time.Hour}) }()
	defer func() { cancel(); <-done }()

	run := testenv.Name("run")
	file := filepath.Join(filepath.Dir(targets), "targets-"+run+".json")
	sd, _ := json.Marshal([]map[string]any{{"targets": []string{addr}, "labels": map[string]string{"run": run}}})
	if err := os.WriteFile(file, sd, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(file)
	// Records all along, so that rates have two samples.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: "audit", Transport: &kafkago.Transport{}, BatchTimeout: time.Millisecond}
		defer w.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				_ = w.WriteMessages(context.Background(), kafkago.Message{Key: []byte("acme"), Value: oktaGrant(fmt.Sprint("g-", i), fmt.Sprint("u", i))})
			}
		}
	}()
	testenv.WaitFor(t, "Prometheus to scrape the service's ingest", 90*time.Second, func() bool {
		r, err := promInstant(promURL, fmt.Sprintf(`rate(scimwatch_ingest_events_inserted_total{run=%q}[1m]) > 0`, run))
		return err == nil && r > 0
	})
	for _, d := range dashboards.All() {
		for _, p := range d.Panels {
			if p.Datasource != dashboards.Prometheus {
				continue
			}
			n, err := promInstant(promURL, p.Query)
			if err != nil {
				t.Errorf("%s: %v\n%s", p.Title, err, p.Query)
				continue
			}
			if (strings.HasPrefix(p.Title, "Ingest rate") || strings.HasPrefix(p.Title, "Consumer lag")) && n == 0 {
				t.Errorf("%s: no series while scimwatch runs\n%s", p.Title, p.Query)
			}
		}
	}
}

// promInstant runs an instant query and returns how many series it gave;
// an error when Prometheus refuses the query.
func promInstant(base, q string) (int, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	if out.Status != "success" {
		return 0, fmt.Errorf("prometheus: %s", out.Error)
	}
	return len(out.Data.Result), nil
}

// TestRunReloadsConfig: SIGHUP with a changed config restarts the
// components with it; a config that does not load is reported and the
// running one kept.
func TestRunReloadsConfig(t *testing.T) {
	broker, chAddr := testenv.Kafka(t), testenv.ClickHouse(t)
	topic, group, db := testenv.Name("audit"), testenv.Name("group"), testenv.Name("scimwatch_reload")
	createTopic(t, broker, topic, 1)
	t.Cleanup(func() { clickhouse.DropDatabase(mustCH(chAddr, db)) })
	dir := t.TempDir()
	for _, id := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
			t.Fatal(err)
		}
		rule := fmt.Sprintf("rules:\n  - id: grant-%s\n    title: Grant seen by rule set %s\n    severity: low\n    when: action == \"role.grant\"\n", id, id)
		if err := os.WriteFile(filepath.Join(dir, id, "r.yaml"), []byte(rule), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config := func(rules string) string {
		return fmt.Sprintf(`kafka: {brokers: [%s], group: %s, topics: [{name: %s, source: auto, tenant: acme}]}
clickhouse: {addrs: [%s], database: %s, compression: none}
http: {listen: "127.0.0.1:0"}
rules: [%s]
history: {store: none}
`, broker, group, topic, chAddr, db, filepath.Join(dir, rules))
	}
	cfg := filepath.Join(dir, "scimwatch.yaml")
	if err := os.WriteFile(cfg, []byte(config("a")), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startRun(t, cfg)
	waitLog := func(want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(s.errs.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", want, s.errs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog("detector reading partition")
	produceTo(t, broker, topic, oktaGrant("g-1", "alice"))
	waitLog("rule=grant-a")
	// A config that does not load: kept running as it was.
	if err := os.WriteFile(cfg, []byte("kafka: {brokers: [nohost]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("config not reloaded")
	// A changed config: the other rule set.
	if err := os.WriteFile(cfg, []byte(config("b")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("config changed: restarting the components")
	produceTo(t, broker, topic, oktaGrant("g-2", "bob"))
	waitLog("rule=grant-b")
	s.stop(t)
}
