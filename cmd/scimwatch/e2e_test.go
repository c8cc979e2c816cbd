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
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/demo"
	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// TestMain lets a test run the scimwatch command as a child process of its
// own (SCIMWATCH_TEST_CHILD holds its arguments), so that it can be
// killed.
func TestMain(m *testing.M) {
	if args := os.Getenv("SCIMWATCH_TEST_CHILD"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, strings.Split(args, "\x1f"), os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// child is scimwatch run as a process of its own.
type child struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{logs: &syncBuffer{}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), "SCIMWATCH_TEST_CHILD="+strings.Join(args, "\x1f"))
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	return c
}

// titles are what each scenario's alert says, in its Slack message.
var titles = map[string]string{
	"bulk-role-change": "role or group membership changes within", "mass-deprovision": "suspended or deleted",
	"off-hours-user-create": "created off hours", "self-privilege-grant": "granted itself", "create-then-privilege": "New user",
	"reactivate-after-deactivate": "soon after deactivation", "credential-created": "redential",
	"provisioning-failures": "failing:", "new-provisioning-source": "used from a new source", "deprovision-failed": "Deprovisioning",
	"scim-token-new-client": "New SCIM client", "scim-scope-drift": "wrote what it never wrote before", "scim-privileged-attribute-write": "privilege (",
	"scim-error-burst": "failed requests in an hour", "scim-bulk-read": "pages of the user directory",
}

// TestEndToEndScenarios: history is imported, then simulated traffic goes
// through the real broker into scimwatch run, a process of its own. The
// clean traffic raises nothing; each injected attack raises its alert, in
// Slack and in Alertmanager, exactly once. The process is killed (SIGKILL)
// with attacks still to come, they are written while it is down, and once
// it is back every one alerts, none twice, and ClickHouse holds every
// event once.
func TestEndToEndScenarios(t *testing.T) {
	broker, chAddr, amURL := testenv.Kafka(t), testenv.ClickHouse(t), testenv.Alertmanager(t)
	id := testenv.Name("e2e")
	db, prefix := "scimwatch_"+id, id+"-"
	// Tenants of this test's own: Alertmanager is shared.
	tenants := synth.DefaultHistoryTenants(60, 4)
	for i := range tenants {
		tenants[i].Name += strings.TrimPrefix(id, "e2e")
	}
	t.Cleanup(func() { clickhouse.DropDatabase(mustCH(chAddr, db)) })
	ws := fakeslack.Start()
	defer ws.Stop()
	os.Setenv("SCIMWATCH_TEST_SLACK_TOKEN", "xoxb-test")

	// Ten days of history, imported as a user would.
	hcfg := synth.HistoryConfig{Tenants: tenants, End: time.Now().UTC(), Days: 10, Seed: 11}
	sim := &demo.Simulation{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	ch := mustCH(chAddr, db)
	if err := sim.Backfill(context.Background(), hcfg, true, "", &ch); err != nil {
		t.Fatal(err)
	}
	var topics, calendar strings.Builder
	for _, tn := range tenants {
		createTopic(t, broker, prefix+tn.Name, 2)
		fmt.Fprintf(&topics, "    - {name: %s, source: auto, tenant: %s}\n", prefix+tn.Name, tn.Name)
		fmt.Fprintf(&calendar, "    %s: {timezone: %s}\n", tn.Name, tn.Timezone)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	cfg := writeFile(t, "scimwatch.yaml", fmt.Sprintf(`kafka:
  brokers: [%s]
  group: %s
  topics:
%sclickhouse: {addrs: [%s], database: %s, compression: none}
batch: {max_rows: 1000, max_wait: 200ms}
http: {listen: "%s"}
shutdown_timeout: 10s
rules: [../../rules/builtin]
calendar:
  tenants:
%sdetect: {allowed_lateness: 2s}
history: {checkpoint: %s}
alerting:
  store: clickhouse
  group_by: [rule, tenant, key]
  group_wait: 0s
  group_interval: 0s
  slack: {api_url: %s, token_env: SCIMWATCH_TEST_SLACK_TOKEN, channel: "#soc"}
  alertmanager: {url: %s}
`, broker, id, topics.String(), chAddr, db, httpAddr, calendar.String(), id, ws.URL(), amURL))
	args := []string{"run", "--config", cfg, "--log-level", "debug"}
	svc := startChild(t, args...)
	ready := func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(120 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, svc.logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	wait("scimwatch run to be ready", ready)

	sink := demo.NewKafkaSink(kafka.Client{Brokers: []string{broker}}, prefix)
	defer sink.Close()
	ctx := context.Background()
	emit := func(tenant, src string, rec []byte) error { return sink.Write(ctx, tenant, src, rec) }
	produced := 0
	count := func(tenant, src string, rec []byte) error { produced++; return emit(tenant, src, rec) }
	// Clean traffic, a minute of it in twenty ticks.
	now := time.Now().UTC()
	for i := 0; i < 20; i++ {
		if err := sim.Sim().Tick(now.Add(time.Duration(i-20)*3*time.Second), 15, count); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	store, err := clickhouse.Open(ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The service rolls up the history's past days for the dashboards.
	wait("the history's past days rolled up", func() bool {
		var n uint64
		_ = store.Conn().QueryRow(ctx, "SELECT count() FROM "+db+".rollup_days FINAL WHERE fingerprint != 0").Scan(&n)
		return n >= 9
	})
	live := func() (distinct, rows uint64) {
		_ = store.Conn().QueryRow(ctx, "SELECT uniqExact(id), count() FROM "+db+".events FINAL WHERE startsWith(kafka_topic, ?)", prefix).Scan(&distinct, &rows)
		return distinct, rows
	}
	wait("the clean traffic in ClickHouse", func() bool { d, _ := live(); return d >= uint64(produced)*9/10 })
	time.Sleep(3 * time.Second) // allowed lateness, and a margin, for anything the clean traffic might raise
	if msgs := topLevel(ws); len(msgs) != 0 {
		t.Fatalf("clean traffic raised %d alerts:\n%s", len(msgs), strings.Join(msgs, "\n"))
	}

	// Attacks: the first half alerts; the process is killed; the rest is
	// written while it is down.
	var plants []synth.Plant
	inject := func(scenarios []string) {
		for i, sc := range scenarios {
			p, err := sim.Sim().Inject(sc, tenants[(len(plants)+i)%len(tenants)].Name, time.Now().UTC(), count)
			if err != nil {
				t.Fatal(err)
			}
			plants = append(plants, p)
		}
		if err := sink.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	alerted := func(p synth.Plant) int {
		n := 0
		for _, m := range topLevel(ws) {
			if strings.Contains(m, titles[p.Rule]) && (strings.Contains(m, p.Key) || p.Actor != "" && strings.Contains(m, p.Actor)) {
				n++
			}
		}
		return n
	}
	half := len(synth.Scenarios) / 2
	inject(synth.Scenarios[:half])
	for _, p := range plants {
		wait(p.Rule+" in Slack", func() bool { return alerted(p) >= 1 })
	}
	time.Sleep(time.Second) // the deliveries recorded
	if err := svc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = svc.cmd.Wait()
	inject(synth.Scenarios[half:])
	svc = startChild(t, args...)
	for _, p := range plants {
		wait(p.Rule+" in Slack after the restart", func() bool { return alerted(p) >= 1 })
	}
	wait("every event in ClickHouse", func() bool { d, _ := live(); return d == uint64(produced) })
	time.Sleep(3 * time.Second) // anything the replay would send twice, sent
	for _, p := range plants {
		if n := alerted(p); n != 1 {
			t.Errorf("%s in %s: %d Slack messages, want 1", p.Rule, p.Tenant, n)
		}
		if n := amAlerts(t, amURL, p); n != 1 {
			t.Errorf("%s in %s: %d Alertmanager alerts, want 1", p.Rule, p.Tenant, n)
		}
	}
	if d, rows := live(); d != uint64(produced) || rows != d {
		t.Errorf("ClickHouse: %d distinct events, %d rows, want %d of each", d, rows, produced)
	}
	if t.Failed() {
		t.Logf("Slack:\n%s\nlog:\n%s", strings.Join(topLevel(ws), "\n"), svc.logs.String())
	}
}

// topLevel returns the texts of the Slack notifications (not replies).
func topLevel(ws *fakeslack.Workspace) []string {
	var out []string
	for _, m := range ws.Messages("") {
		if m.ThreadTS == "" {
			out = append(out, m.Text)
		}
	}
	return out
}

// amAlerts counts the alerts of p's rule and tenant in Alertmanager whose
// actor or title names p's actor or key.
func amAlerts(t *testing.T, base string, p synth.Plant) int {
	t.Helper()
	q := url.Values{}
	q.Add("filter", fmt.Sprintf(`rule=%q`, p.Rule))
	q.Add("filter", fmt.Sprintf(`tenant=%q`, p.Tenant))
	resp, err := http.Get(base + "/api/v2/alerts?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range alerts {
		s := a.Labels["actor"] + " " + a.Annotations["title"]
		if strings.Contains(s, p.Key) || p.Actor != "" && strings.Contains(s, p.Actor) {
			n++
		}
	}
	return n
}
