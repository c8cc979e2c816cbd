package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// freeAddr returns a free 127.0.0.1 address for a child's listener.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// get returns the status and body of an HTTP GET.
func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitChild polls cond until it holds, failing with the child's log after
// bound.
func waitChild(t *testing.T, svc *child, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; log:\n%s", what, svc.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPoisonRecordsEndToEnd: scimwatch run (a process of its own, on the
// real broker, ClickHouse and a Slack stand-in) is sent a poison record of
// each kind that once stopped ingest for every topic or slipped past it:
// one event of 200,000 targets that ClickHouse refuses, an invalid record
// just under the topic's 1 MB, one of 20 MB on a topic that takes 30, a
// record dated year 9999, an actor named <!channel>. Then an ordinary
// record on another partition: it is in ClickHouse within seconds, each
// poison record is a dead letter with its reason, the year-9999 record is
// stored at its receipt and alerted on, the Slack text is escaped, and
// /readyz tells the truth throughout.
func TestPoisonRecordsEndToEnd(t *testing.T) {
	broker, chAddr := testenv.Kafka(t), testenv.ClickHouse(t)
	id := testenv.Name("poison")
	db, audit, big, dead := "scimwatch_"+id, id+"-audit", id+"-big", id+"-dead"
	t.Cleanup(func() { clickhouse.DropDatabase(mustCH(chAddr, db)) })
	createTopic(t, broker, audit, 2)
	createTopic(t, broker, dead, 1)
	testenv.CreateTopicWith(t, broker, big, 1, map[string]string{"max.message.bytes": strconv.Itoa(30 << 20)})
	ws := fakeslack.Start()
	defer ws.Stop()
	os.Setenv("SCIMWATCH_TEST_SLACK_TOKEN", "xoxb-test")
	httpAddr := freeAddr(t)
	// limits.max_targets is raised past the default so that the record of
	// 200,000 targets reaches ClickHouse whole, and ClickHouse refuses it
	// (with the default it is stored with 64; ingest's own tests check that).
	cfg := writeFile(t, "scimwatch.yaml", fmt.Sprintf(`kafka:
  brokers: [%s]
  group: %s
  topics:
    - {name: %s, source: auto, tenant: acme}
    - {name: %s, source: auto, tenant: acme}
  dead_letter_topic: %s
  max_record_bytes: %d
clickhouse: {addrs: [%s], database: %s, compression: none}
batch: {max_rows: 1000, max_wait: 200ms}
retry: {initial_backoff: 100ms, max_backoff: 1s, stuck_after: 30s}
limits: {max_targets: 300000}
http: {listen: "%s"}
shutdown_timeout: 10s
rules: [../../rules/builtin]
detect: {allowed_lateness: 2s}
history: {checkpoint: %s}
alerting:
  store: clickhouse
  group_wait: 0s
  group_interval: 0s
  slack: {api_url: %s, token_env: SCIMWATCH_TEST_SLACK_TOKEN, channel: "#soc"}
`, broker, id, audit, big, dead, 30<<20, chAddr, db, httpAddr, id, ws.URL()))
	svc := startChild(t, "run", "--config", cfg, "--log-level", "info")
	readyz := func() (int, string) { return get("http://" + httpAddr + "/readyz") }
	wait := func(what string, bound time.Duration, cond func() bool) {
		t.Helper()
		waitChild(t, svc, what, bound, cond)
	}
	wait("scimwatch run to be ready", 120*time.Second, func() bool { code, _ := readyz(); return code == 200 })

	// /readyz, sampled all along: a 503 must say why.
	var mu sync.Mutex
	var samples []string
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			code, body := readyz()
			mu.Lock()
			samples = append(samples, fmt.Sprintf("%d %s", code, strings.TrimSpace(body)))
			mu.Unlock()
		}
	}()

	now := time.Now().UTC().Format(time.RFC3339Nano)
	var targets bytes.Buffer
	for i := range 200000 {
		if i > 0 {
			targets.WriteByte(',')
		}
		targets.WriteString("{}")
	}
	poison := map[string][]byte{
		"targets":  []byte(`{"uuid":"poison-targets","published":"` + now + `","eventType":"group.user_membership.add","actor":{"id":"00uATTACKER","type":"User"},"outcome":{"result":"SUCCESS"},"target":[` + targets.String() + `]}`),
		"year9999": []byte(`{"uuid":"poison-9999","published":"9999-12-31T23:59:59.000Z","eventType":"user.lifecycle.create","actor":{"id":"00uCLOCK","type":"User","alternateId":"clock@acme.example"},"outcome":{"result":"SUCCESS"},"target":[{"id":"00uNEW","type":"User","alternateId":"new@acme.example"}]}`),
		"mention":  []byte(`{"uuid":"poison-mention","published":"` + now + `","eventType":"user.account.privilege.grant","actor":{"id":"00uMENTION","type":"User","alternateId":"<!channel>","displayName":"<!channel>"},"outcome":{"result":"SUCCESS"},"target":[{"id":"00uVICTIM","type":"User","alternateId":"victim@acme.example"}],"debugContext":{"debugData":{"privilegeGranted":"Super administrator"}}}`),
		"underMax": bytes.Repeat([]byte("x"), 1048450),
	}
	write := func(topic string, partition int, values ...[]byte) {
		t.Helper()
		w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: topic, Transport: &kafkago.Transport{}, BatchTimeout: 5 * time.Millisecond, BatchSize: 1,
			BatchBytes: 32 << 20, RequiredAcks: kafkago.RequireAll,
			Balancer: kafkago.BalancerFunc(func(kafkago.Message, ...int) int { return partition })}
		defer w.Close()
		var msgs []kafkago.Message
		for _, v := range values {
			msgs = append(msgs, kafkago.Message{Value: v})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	write(audit, 0, poison["targets"], poison["underMax"], poison["year9999"], poison["mention"])
	write(big, 0, bytes.Repeat([]byte("y"), 20<<20))
	written := time.Now()
	write(audit, 1, []byte(`{"uuid":"ordinary-1","published":"`+now+`","eventType":"user.session.start","actor":{"id":"00uALICE","type":"User","alternateId":"alice@acme.example"},"outcome":{"result":"SUCCESS"}}`))

	store, err := clickhouse.Open(mustCH(chAddr, db), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	count := func(q string) uint64 {
		var n uint64
		_ = store.Conn().QueryRow(ctx, strings.ReplaceAll(q, "DB", db)).Scan(&n)
		return n
	}
	wait("the ordinary record in ClickHouse", 60*time.Second, func() bool {
		return count("SELECT count() FROM DB.events WHERE id = 'ordinary-1'") == 1
	})
	t.Logf("the ordinary record was in ClickHouse %.1f s after it was written", time.Since(written).Seconds())
	wait("the year-9999 record, stored at its receipt and marked", 60*time.Second, func() bool {
		return count("SELECT count() FROM DB.events WHERE id = 'poison-9999' AND trimmed_time = '9999-12-31T23:59:59Z' AND time > now() - 3600") == 1
	})

	// Three dead letters, each with its reason and where it was.
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: dead, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	reasons := map[string]bool{}
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for len(reasons) < 3 {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("reading dead letters (%v so far): %v; log:\n%s", reasons, err, svc.logs.String())
		}
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		key := h["scimwatch-source-topic"] + " " + h["scimwatch-reason"] + " " + h["scimwatch-truncated-from"]
		reasons[key] = true
		if h["scimwatch-source-offset"] == "" || h["scimwatch-error"] == "" {
			t.Errorf("dead letter %s without its offset or error: %v", key, h)
		}
	}
	for _, want := range []string{audit + " refused ", audit + " invalid 1048450", big + " invalid " + strconv.Itoa(20<<20)} {
		if !reasons[want] {
			t.Errorf("no dead letter %q among %v", want, reasons)
		}
	}

	// Alerts: the record dated 9999, and the grant by <!channel>, escaped.
	wait("the event-trimmed alert", 60*time.Second, func() bool {
		for _, m := range topLevel(ws) {
			if strings.Contains(m, "cut by scimwatch") {
				return true
			}
		}
		return false
	})
	wait("the grant by the actor named <!channel>", 60*time.Second, func() bool {
		for _, m := range topLevel(ws) {
			if strings.Contains(m, "&lt;!channel&gt;") {
				return true
			}
		}
		return false
	})
	for _, m := range topLevel(ws) {
		if strings.Contains(m, "<!channel>") {
			t.Errorf("a notification text carries <!channel> raw: %q", m)
		}
	}
	close(stop)
	sampler.Wait()
	if code, body := readyz(); code != 200 {
		t.Errorf("/readyz after the poison records: %d %s", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range samples {
		if strings.HasPrefix(s, "503") && len(s) < 10 {
			t.Errorf("/readyz answered 503 without a reason: %q", s)
		}
	}
	if t.Failed() {
		t.Logf("readyz samples: %v\nlog:\n%s", samples, svc.logs.String())
	}
}

// TestAlertStoreOutageDoesNotFlood: with alerting's store (ClickHouse, a
// server of the test's own) down, scimwatch run once tried the store once
// per event it read and logged each failure: 35,173 error lines in a
// two-minute outage. Now the detector holds the alerts and hands them over
// with backoff, logs the outage once when it starts and once when it ends,
// /readyz says why it is not ready, and every alert arrives afterwards.
func TestAlertStoreOutageDoesNotFlood(t *testing.T) {
	broker := testenv.Kafka(t)
	chAddr, ch := testenv.OwnClickHouse(t)

	id := testenv.Name("outage")
	topic := id + "-audit"
	createTopic(t, broker, topic, 2)
	ws := fakeslack.Start()
	defer ws.Stop()
	os.Setenv("SCIMWATCH_TEST_SLACK_TOKEN", "xoxb-test")
	httpAddr := freeAddr(t)
	cfg := writeFile(t, "scimwatch.yaml", fmt.Sprintf(`kafka:
  brokers: [%s]
  group: %s
  topics: [{name: %s, source: auto, tenant: acme}]
clickhouse: {addrs: [%s], database: scimwatch_outage, compression: none}
batch: {max_rows: 1000, max_wait: 200ms}
retry: {initial_backoff: 100ms, max_backoff: 2s, stuck_after: 5s}
http: {listen: "%s"}
shutdown_timeout: 10s
rules: [../../rules/builtin]
detect: {allowed_lateness: 1s}
history: {checkpoint: %s}
alerting:
  store: clickhouse
  group_wait: 0s
  group_interval: 0s
  slack: {api_url: %s, token_env: SCIMWATCH_TEST_SLACK_TOKEN, channel: "#soc"}
`, broker, id, topic, chAddr, httpAddr, id, ws.URL()))
	svc := startChild(t, "run", "--config", cfg, "--log-level", "info")
	readyz := func() (int, string) { return get("http://" + httpAddr + "/readyz") }
	wait := func(what string, cond func() bool) { t.Helper(); waitChild(t, svc, what, 120*time.Second, cond) }
	wait("scimwatch run to be ready", func() bool { code, _ := readyz(); return code == 200 })
	metric := func(name string) float64 {
		_, body := get("http://" + httpAddr + "/metrics")
		var sum float64
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, name) {
				var v float64
				fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
				sum += v
			}
		}
		return sum
	}

	ch("stop")
	before := strings.Count(svc.logs.String(), "\n")
	// 2,000 privileged grants, each its own alert.
	var grants [][]byte
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range 2000 {
		grants = append(grants, []byte(fmt.Sprintf(`{"uuid":"grant-%d","published":%q,"eventType":"user.account.privilege.grant","actor":{"id":"00uADMIN","type":"User","alternateId":"admin@acme.example"},"outcome":{"result":"SUCCESS"},"target":[{"id":"00uU%d","type":"User","alternateId":"u%d@acme.example"}],"debugContext":{"debugData":{"privilegeGranted":"Super administrator"}}}`, i, now, i, i)))
	}
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: topic, Transport: &kafkago.Transport{}, Balancer: &kafkago.RoundRobin{},
		BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafkago.RequireAll}
	if err := w.WriteMessages(context.Background(), func() []kafkago.Message {
		var ms []kafkago.Message
		for _, g := range grants {
			ms = append(ms, kafkago.Message{Value: g})
		}
		return ms
	}()...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	wait("the detector to read the 2,000 grants", func() bool { return metric("scimwatch_detector_records_total") >= 2000 })
	wait("/readyz to say alerts are not handed over", func() bool {
		code, body := readyz()
		return code == 503 && strings.Contains(body, "detect: alerts not handed over")
	})
	time.Sleep(5 * time.Second) // an outage that lasts: the backoff at work
	during := svc.logs.String()
	lines := strings.Count(during, "\n") - before
	if n := strings.Count(during, "alerts not handed over"); n != 1 {
		t.Errorf("the refusal logged %d times, want once", n)
	}
	if lines > 100 {
		t.Errorf("%d log lines during the outage, want a few", lines)
	}
	ch("start")
	wait("/readyz to be 200 again", func() bool { code, _ := readyz(); return code == 200 })
	wait("the recovery logged", func() bool { return strings.Contains(svc.logs.String(), "alerts handed over again") })
	wait("every alert handed over", func() bool { return metric("scimwatch_detect_alerts_pending") == 0 })
	if t.Failed() {
		t.Logf("log:\n%s", svc.logs.String())
	}
}
