package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/internal/vendorfake"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// vendors are the three fake vendors a test collects from, and a feed
// that keeps adding records to their logs, as a live org does.
type vendors struct {
	okta   *vendorfake.Okta
	graph  *vendorfake.Graph
	ws     *vendorfake.Workspace
	mu     sync.Mutex
	served map[string]int // records added, by vendor
	stop   chan struct{}
	done   chan struct{}
}

func startVendors(t *testing.T) *vendors {
	t.Helper()
	dir := t.TempDir()
	v := &vendors{served: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	if v.okta, err = vendorfake.NewOkta(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.okta.Close)
	if v.graph, err = vendorfake.NewGraph(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.graph.Close)
	if v.ws, err = vendorfake.NewWorkspace(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.ws.Close)
	v.okta.APIToken = "ssws-e2e-4d1c"
	v.okta.RateLimit, v.okta.RateWindow = 100, 2*time.Second
	v.graph.ClientSecret = "graph-e2e~8Qw"
	os.Setenv("SCIMWATCH_TEST_OKTA_TOKEN", v.okta.APIToken)
	os.Setenv("SCIMWATCH_TEST_GRAPH_SECRET", v.graph.ClientSecret)
	return v
}

// feed adds a tick of records every 50 ms until stopped: 10 Okta sign-ins,
// 3 Graph user updates, 3 Workspace logins; and early on, once each, a
// vendor's failure (a 429, a 503, a malformed page, an expired token).
func (v *vendors) feed() {
	go func() {
		defer close(v.done)
		for tick := 0; ; tick++ {
			select {
			case <-v.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			now := time.Now()
			var ok [][]byte
			for i := range 10 {
				ok = append(ok, vendorfake.OktaEvent(fmt.Sprintf("e2e-%06d-%02d-0000", tick, i), "user.session.start", "pat@acme.example", "pat@acme.example", now))
			}
			v.okta.Add(ok...)
			for i := range 3 {
				v.graph.Add("directoryAudits", vendorfake.GraphAudit(fmt.Sprintf("Directory_e2e_%06d_%d", tick, i), "Update user", "UserManagement", "admin@contoso.example", "u@contoso.example", now))
				v.ws.Add("login", vendorfake.WorkspaceActivity("login", int64(tick*10+i), "login", "login_success", fmt.Sprintf("u%d@acme.example", i), map[string]string{"login_type": "google_password"}, now))
			}
			v.mu.Lock()
			v.served["okta"] += 10
			v.served["graph"] += 3
			v.served["workspace"] += 3
			v.mu.Unlock()
			switch tick {
			case 10:
				v.okta.Fail(1, vendorfake.Fault{Status: 429, Header: http.Header{"X-Rate-Limit-Reset": {fmt.Sprint(time.Now().Add(time.Second).Unix())}}})
			case 20:
				v.graph.Fail(1, vendorfake.Fault{Status: 503})
				v.ws.Fail(1, vendorfake.RateLimited)
			case 30:
				v.okta.Fail(1, vendorfake.Fault{Malformed: true})
				v.graph.ExpireTokens()
			}
		}
	}()
}

func (v *vendors) end() map[string]int {
	close(v.stop)
	<-v.done
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.served
}

// TestRunCollectsAcrossSIGKILL: scimwatch run, a process of its own,
// collects from fake Okta, Graph and Workspace servers (over HTTPS, with
// throttling, 5xx, a malformed page and an expired token on the way) into
// the real Kafka and ClickHouse while the vendors' logs grow; it is killed
// (SIGKILL) twice and started again; in the end ClickHouse holds every
// record each vendor served, once, and an Okta privilege grant in the
// vendor's log raises its alert in Slack once.
func TestRunCollectsAcrossSIGKILL(t *testing.T) {
	broker, chAddr := testenv.Kafka(t), testenv.ClickHouse(t)
	id := testenv.Name("collect")
	db := "scimwatch_" + id
	t.Cleanup(func() { clickhouse.DropDatabase(mustCH(chAddr, db)) })
	v := startVendors(t)
	ws := fakeslack.Start()
	defer ws.Stop()
	os.Setenv("SCIMWATCH_TEST_SLACK_TOKEN", "xoxb-test")
	for _, topic := range []string{"okta", "entra", "gws"} {
		createTopic(t, broker, id+"-"+topic, 2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	cfg := writeFile(t, "scimwatch.yaml", fmt.Sprintf(`kafka:
  brokers: [%[1]s]
  group: %[2]s
  topics:
    - {name: %[2]s-okta, source: okta, tenant: acme}
    - {name: %[2]s-entra, source: entra, tenant: contoso}
    - {name: %[2]s-gws, source: gworkspace, tenant: C03az79cb}
clickhouse: {addrs: [%[3]s], database: %[4]s, compression: none}
batch: {max_rows: 1000, max_wait: 200ms}
http: {listen: "%[5]s"}
shutdown_timeout: 10s
rules: [../../rules/builtin]
detect: {allowed_lateness: 1s}
history: {checkpoint: %[2]s}
alerting:
  store: clickhouse
  group_by: [rule, tenant, key]
  group_wait: 0s
  group_interval: 0s
  slack: {api_url: %[6]s, token_env: SCIMWATCH_TEST_SLACK_TOKEN, channel: "#soc"}
collectors:
  state_topic: %[2]s-state
  okta:
    - {tenant: acme, topic: %[2]s-okta, url: %[7]s, api_token_env: SCIMWATCH_TEST_OKTA_TOKEN, poll_interval: 1s, limit: 1000, tls: {ca_file: %[8]s}}
  graph:
    - tenant: contoso
      topic: %[2]s-entra
      tenant_id: %[9]s
      client_id: %[10]s
      client_secret_env: SCIMWATCH_TEST_GRAPH_SECRET
      logs: [directoryAudits]
      poll_interval: 1s
      top: 100
      graph_url: %[11]s
      authority_host: %[11]s
      tls: {ca_file: %[12]s}
  workspace:
    - tenant: C03az79cb
      topic: %[2]s-gws
      credentials_file: %[13]s
      subject: %[14]s
      applications: [login]
      poll_interval: 1s
      max_results: 100
      reports_url: %[15]s
      tls: {ca_file: %[16]s}
`, broker, id, chAddr, db, httpAddr, ws.URL(), v.okta.URL(), v.okta.CAFile, v.graph.TenantID, v.graph.ClientID, v.graph.URL(), v.graph.CAFile,
		v.ws.KeyFile, v.ws.Admin, v.ws.URL(), v.ws.CAFile))
	args := []string{"run", "--config", cfg, "--log-level", "debug"}
	svc := startChild(t, args...)
	wait := func(what string, bound time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(bound)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, svc.logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ready := func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	wait("scimwatch run to be ready", 120*time.Second, ready)
	store, err := clickhouse.Open(mustCH(chAddr, db), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored := func() map[string][2]uint64 {
		out := map[string][2]uint64{}
		rows, err := store.Conn().Query(context.Background(), "SELECT kafka_topic, uniqExact(id), count() FROM "+db+".events FINAL GROUP BY kafka_topic")
		if err != nil {
			t.Logf("querying ClickHouse: %v", err)
			return out
		}
		defer rows.Close()
		for rows.Next() {
			var topic string
			var d, n uint64
			if rows.Scan(&topic, &d, &n) == nil {
				out[strings.TrimPrefix(topic, id+"-")] = [2]uint64{d, n}
			}
		}
		return out
	}
	v.feed()
	for kill := 1; kill <= 2; kill++ {
		// Kill it while it is collecting: once more records are stored.
		before := stored()["okta"][0]
		wait("collected records in ClickHouse", 120*time.Second, func() bool { return stored()["okta"][0] > before+200 })
		t.Logf("kill %d: stored %v", kill, stored())
		if err := svc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = svc.cmd.Wait()
		time.Sleep(500 * time.Millisecond) // the vendors' logs grow while it is down
		svc = startChild(t, args...)
	}
	// An attack in the vendor's log: an admin grants Super Administrator.
	v.okta.Add(oktaGrant("e2e-grant-0000-0001", "alice"))
	grants := func() int {
		n := 0
		for _, m := range ws.Messages("") {
			if m.ThreadTS == "" && strings.Contains(m.Text, "Super Administrator") && strings.Contains(m.Text, "alice") {
				n++
			}
		}
		return n
	}
	wait("the grant's alert in Slack", 120*time.Second, func() bool { return grants() >= 1 })
	served := v.end()
	served["okta"]++ // the grant
	want := map[string]int{"okta": served["okta"], "entra": served["graph"], "gws": served["workspace"]}
	wait("every record served in ClickHouse", 180*time.Second, func() bool {
		s := stored()
		for topic, n := range want {
			if s[topic][0] != uint64(n) {
				return false
			}
		}
		return true
	})
	time.Sleep(3 * time.Second) // anything sent twice, sent
	for topic, c := range stored() {
		if c[0] != c[1] {
			t.Errorf("%s: %d rows for %d events: an event stored twice", topic, c[1], c[0])
		}
	}
	if n := grants(); n != 1 {
		t.Errorf("the grant raised %d Slack messages, want 1", n)
	}
	if !ready() {
		t.Error("not ready at the end")
	}
	t.Logf("served %v; vendors' requests: okta %d (throttled %d), graph %d, workspace %d", want, v.okta.Requests, v.okta.Throttled, v.graph.Requests, v.ws.Requests)
}

// TestCollectCommand: scimwatch collect alone, on the real Kafka, puts an
// Okta org's log into its topic, is ready while it polls, and reports a
// revoked token on /readyz.
func TestCollectCommand(t *testing.T) {
	broker := testenv.Kafka(t)
	id := testenv.Name("collectcmd")
	createTopic(t, broker, id, 1)
	v := startVendors(t)
	var evs [][]byte
	for i := range 250 {
		evs = append(evs, vendorfake.OktaEvent(fmt.Sprintf("cmd-%06d-0000-0000", i), "user.session.start", "pat@acme.example", "pat@acme.example", time.Now()))
	}
	v.okta.Add(evs...)
	port := testenv.FreePorts(t, 1)[0]
	cfg := writeFile(t, "collect.yaml", fmt.Sprintf(`kafka:
  brokers: [%s]
  topics: [{name: %s, source: okta, tenant: acme}]
http: {listen: "127.0.0.1:%d"}
collectors:
  state_topic: %s-state
  stale_after: 1m
  okta: [{tenant: acme, topic: %s, url: %s, api_token_env: SCIMWATCH_TEST_OKTA_TOKEN, poll_interval: 1s, limit: 100, tls: {ca_file: %s}}]
`, broker, id, port, id, id, v.okta.URL(), v.okta.CAFile))
	ctx, cancel := context.WithCancel(context.Background())
	errs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"collect", "--config", cfg}, strings.NewReader(""), &syncBuffer{}, errs)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("collect exited %d:\n%s", code, errs.String())
		}
	}()
	readyz := func() int {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testenv.WaitFor(t, "collect ready", 60*time.Second, func() bool { return readyz() == 200 })
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: id, Partition: 0, MaxWait: 250 * time.Millisecond})
	defer r.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	seen := map[string]bool{}
	for len(seen) < 250 {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("%d of 250 records: %v\n%s", len(seen), err, errs.String())
		}
		seen[string(m.Key)] = true
	}
	v.okta.Revoke(true)
	testenv.WaitFor(t, "/readyz to report the revoked token", 30*time.Second, func() bool { return readyz() == 503 })
}
