package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Lag is measured often in the tests, so that they wait little for it.
func init() { LagInterval = 200 * time.Millisecond }

// harness is one test's topic, dead-letter topic, group and database.
type harness struct {
	t       *testing.T
	brokers []string
	topic   string
	dlq     string
	group   string
	store   *clickhouse.Store
}

func newHarness(t *testing.T, brokers []string, chAddr string) *harness {
	t.Helper()
	h := &harness{t: t, brokers: brokers, topic: testenv.Name("audit"), dlq: testenv.Name("dead"), group: testenv.Name("group")}
	h.createTopic(h.topic, 4)
	h.createTopic(h.dlq, 1)
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs = []string{chAddr}
	cfg.Database = testenv.Name("scimwatch_test")
	store, err := clickhouse.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = store.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		store.Close()
	})
	h.store = store
	return h
}

func (h *harness) createTopic(name string, partitions int) {
	h.t.Helper()
	testenv.CreateTopic(h.t, h.brokers[0], name, partitions)
}

func (h *harness) config() Config {
	cfg := DefaultConfig()
	cfg.Kafka.Brokers = h.brokers
	cfg.Kafka.Group = h.group
	cfg.Kafka.Topics = []TopicConfig{{Name: h.topic, Source: source.SourceAuto, Tenant: "acme"}}
	cfg.Kafka.DeadLetterTopic = h.dlq
	cfg.Kafka.MaxRecordBytes = 64 << 10
	cfg.Batch.MaxRows = 500
	cfg.Batch.MaxWait = 200 * time.Millisecond
	cfg.Retry.MaxBackoff = time.Second
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

func (h *harness) produce(values ...[]byte) {
	h.t.Helper()
	h.produceTo(h.topic, values...)
}

// running is an Ingester running in the background.
type running struct {
	in       *Ingester
	reg      *prometheus.Registry
	cancel   context.CancelFunc
	done     chan error
	inserted atomic.Int64
}

func (h *harness) start(cfg Config) *running {
	h.t.Helper()
	reg := prometheus.NewRegistry()
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else if p := os.Getenv("SCIMWATCH_TEST_LOG"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			h.t.Fatal(err)
		}
		h.t.Cleanup(func() { f.Close() })
		logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	in, err := New(cfg, h.store, reg, logger)
	if err != nil {
		h.t.Fatal(err)
	}
	r := &running{in: in, reg: reg, done: make(chan error, 1)}
	in.OnInsert = func(rows []clickhouse.Row, _ time.Time) { r.inserted.Add(int64(len(rows))) }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- in.Run(ctx) }()
	h.t.Cleanup(r.stop)
	return r
}

// stop shuts the Ingester down as SIGTERM does and waits for it.
func (r *running) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		panic(err)
	}
}

func (h *harness) count(query string) uint64 {
	h.t.Helper()
	var n uint64
	if err := h.store.Conn().QueryRow(context.Background(), fmt.Sprintf(query, h.store.Database())).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// uniqueEvents is what a dashboard sees: events counted once by id.
func (h *harness) uniqueEvents() uint64 { return h.count("SELECT count() FROM %s.events_unique") }
func (h *harness) storedRows() uint64   { return h.count("SELECT count() FROM %s.events") }

// waitFor polls cond until it holds or the bound passes; the bound is a
// failure limit, not a measurement.
func (h *harness) waitFor(what string, bound time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (h *harness) deadLetters(n int) []kafkago.Message {
	h.t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: h.brokers, Topic: h.dlq, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []kafkago.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			h.t.Fatalf("reading dead letters (%d of %d): %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func TestIngestExactlyOnceWithDeadLetters(t *testing.T) {
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	recs := synth.Records(1, 3000, 0.6)
	bad := [][]byte{[]byte(`{"eventType":"user.session.start","published":"redacted"}`), []byte("not json at all"),
		append([]byte(`{"eventType":"user.session.start","published":"2026-11-02T08:00:00Z","pad":"`), append(bytes.Repeat([]byte("x"), 70<<10), `"}`...)...)}
	h.produce(recs[:1500]...)
	h.produce(bad...)
	h.produce(recs[1500:]...)
	h.produce(recs[:200]...) // the same records delivered again
	r := h.start(h.config())

	h.waitFor("3000 unique events", 90*time.Second, func() bool { return h.uniqueEvents() == 3000 })
	h.waitFor("every record accounted for", 30*time.Second, func() bool {
		return testutil.ToFloat64(r.in.metrics.read.WithLabelValues(h.topic)) == 3203
	})
	// The metrics below are counted after the writes they count return: stop
	// the ingester (which lands and counts its last batch) before reading
	// them, rather than reading them when the rows become visible.
	r.stop()
	// The 200 duplicates are stored (until a merge collapses them) but
	// never counted: events_unique reads through them.
	if n := h.storedRows(); n < 3000 || n > 3200 {
		t.Errorf("%d rows stored, want 3000 to 3200", n)
	}
	dead := h.deadLetters(3)
	reasons := map[string]string{}
	for _, m := range dead {
		off, _ := strconv.ParseInt(headerValue(m, hdrOffset), 10, 64)
		if headerValue(m, hdrTopic) != h.topic || headerValue(m, hdrPartition) == "" || off < 0 {
			t.Errorf("dead letter headers %v", m.Headers)
		}
		reasons[string(m.Value[:min(20, len(m.Value))])] = headerValue(m, hdrReason) + ": " + headerValue(m, hdrError)
	}
	for prefix, want := range map[string]string{
		`{"eventType":"user.s`: "",
		"not json at all":      "invalid: ",
	} {
		got, ok := reasons[prefix]
		if !ok || want != "" && got[:len(want)] != want {
			t.Errorf("dead letter %q: %q", prefix, got)
		}
	}
	if got := testutil.ToFloat64(r.in.metrics.deadLettered.WithLabelValues(h.topic, reasonTooLarge)); got != 1 {
		t.Errorf("too_large dead letters: %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.in.metrics.deadLettered.WithLabelValues(h.topic, reasonInvalid)); got != 2 {
		t.Errorf("invalid dead letters: %v, want 2", got)
	}
	if got := testutil.ToFloat64(r.in.metrics.inserted); got != 3200 {
		t.Errorf("inserted metric %v, want 3200", got)
	}
}

// TestIngestFromKcat produces with kcat (librdkafka), a client no one here wrote.
func TestIngestFromKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not installed (./.ci/test.sh installs it)")
		}
		t.Skip("kcat is not installed")
	}
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	var in bytes.Buffer
	for _, r := range synth.Records(2, 500, 0.6) {
		in.Write(r)
		in.WriteByte('\n')
	}
	cmd := exec.Command(kcat, "-b", h.brokers[0], "-t", h.topic, "-P", "-z", "lz4")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v: %s", err, out)
	}
	h.start(h.config())
	h.waitFor("500 events from kcat", 60*time.Second, func() bool { return h.uniqueEvents() == 500 })
}

func TestRestartResumesFromCommittedOffsets(t *testing.T) {
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	recs := synth.Records(3, 2000, 0.6)
	h.produce(recs[:1000]...)
	r := h.start(h.config())
	h.waitFor("first 1000", 60*time.Second, func() bool { return h.uniqueEvents() == 1000 })
	r.stop()
	h.produce(recs[1000:]...)
	r2 := h.start(h.config())
	h.waitFor("all 2000", 60*time.Second, func() bool { return h.uniqueEvents() == 2000 })
	r2.stop() // OnInsert counts after the insert returns: stop, then read the count
	if n := h.storedRows(); n != 2000 {
		t.Errorf("%d rows stored, want 2000: the restart re-read committed records", n)
	}
	if got := r2.inserted.Load(); got != 1000 {
		t.Errorf("second run inserted %d, want the 1000 new ones", got)
	}
}

func TestSecondConsumerTakesPartitions(t *testing.T) {
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	recs := synth.Records(4, 6000, 0.6)
	a := h.start(h.config())
	h.produce(recs[:2000]...)
	h.waitFor("first 2000", 60*time.Second, func() bool { return h.uniqueEvents() == 2000 })
	b := h.start(h.config())
	h.waitFor("b to join", 60*time.Second, func() bool { return testutil.ToFloat64(b.in.metrics.generations) >= 1 })
	h.produce(recs[2000:4000]...)
	h.waitFor("4000", 60*time.Second, func() bool { return h.uniqueEvents() == 4000 })
	// OnInsert counts after the insert returns, so the rows can be visible
	// first: wait for the counts themselves.
	h.waitFor("both members to insert some of the new records", 30*time.Second, func() bool {
		return b.inserted.Load() > 0 && a.inserted.Load() > 2000
	})
	b.stop() // a takes b's partitions back
	h.produce(recs[4000:]...)
	h.waitFor("all 6000", 90*time.Second, func() bool { return h.uniqueEvents() == 6000 })
}

// TestRebalanceLandsTheBatchInFlight: a member holding a batch it has not
// written yet when a second member joins writes and commits it before it
// gives up partitions, so that nothing is read twice (it once dropped the
// batch, and the partitions' new owners read it all again).
func TestRebalanceLandsTheBatchInFlight(t *testing.T) {
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	recs := synth.Records(8, 4000, 0.6)
	cfg := h.config()
	cfg.Batch.MaxRows = 100000          // the batch fills...
	cfg.Batch.MaxWait = 5 * time.Minute // ...and waits: it is in flight when b joins
	a := h.start(cfg)
	h.produce(recs[:3000]...)
	read := func(r *running) float64 { return testutil.ToFloat64(r.in.metrics.read.WithLabelValues(h.topic)) }
	h.waitFor("a to read 3000 records into its batch", 60*time.Second, func() bool { return read(a) == 3000 })
	if a.inserted.Load() != 0 {
		t.Fatalf("a inserted %d before the rebalance; the test needs its batch in flight", a.inserted.Load())
	}
	b := h.start(cfg)
	h.waitFor("the rebalance to land a's batch", 60*time.Second, func() bool { return a.inserted.Load() == 3000 })
	h.waitFor("both members in the new generation", 60*time.Second, func() bool {
		return testutil.ToFloat64(b.in.metrics.generations) >= 1 && testutil.ToFloat64(a.in.metrics.generations) >= 2
	})
	h.produce(recs[3000:]...)
	h.waitFor("the last 1000 to be read", 60*time.Second, func() bool { return read(a)+read(b) >= 4000 })
	a.stop()
	b.stop()
	if got := read(a) + read(b); got != 4000 {
		t.Errorf("%v records read by the two members, want 4000: the rebalance made them read records twice", got)
	}
	if n := h.storedRows(); n != 4000 {
		t.Errorf("%d rows stored, want 4000", n)
	}
	if n := h.uniqueEvents(); n != 4000 {
		t.Errorf("%d events, want 4000", n)
	}
}

// TestClickHouseDownMidStream stops a ClickHouse server of its own in the
// middle of a stream and restarts it: nothing is lost, and duplicates
// written around the failure collapse on read.
func TestClickHouseDownMidStream(t *testing.T) {
	kafkaAddr := testenv.Kafka(t)
	chAddr, ch := testenv.OwnClickHouse(t)

	h := newHarness(t, []string{kafkaAddr}, chAddr)
	recs := synth.Records(5, 4000, 0.6)
	cfg := h.config()
	cfg.Retry.StuckAfter = 2 * time.Second
	r := h.start(cfg)
	h.produce(recs[:1000]...)
	h.waitFor("first 1000", 60*time.Second, func() bool { return h.uniqueEvents() == 1000 })

	ch("stop")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.produce(recs[1000:]...) }()
	h.waitFor("failed inserts while ClickHouse is down", 60*time.Second, func() bool {
		return testutil.ToFloat64(r.in.metrics.chErrors) >= 2
	})
	wg.Wait()
	// Readiness tells the truth: the batch has not been written for longer
	// than stuck_after, and the metric says since when.
	h.waitFor("readiness to say ingest is stuck", 60*time.Second, func() bool {
		err := r.in.stall.check()
		return err != nil && strings.Contains(err.Error(), "ingest: stuck for")
	})
	if since := testutil.ToFloat64(r.in.metrics.stuckSince); since < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("stuck_since_seconds %v while stuck", since)
	}
	// Lag goes on being measured while nothing can be written: the 3000
	// records produced meanwhile are not in ClickHouse.
	h.waitFor("consumer_lag to count the records produced while ClickHouse is down", 60*time.Second, func() bool {
		return sumGauge(t, r, "scimwatch_ingest_consumer_lag") >= 3000
	})
	ch("start")
	h.waitFor("all 4000 after the restart", 120*time.Second, func() bool { return h.uniqueEvents() == 4000 })
	h.waitFor("readiness to recover", 60*time.Second, func() bool {
		return r.in.stall.check() == nil && testutil.ToFloat64(r.in.metrics.stuckSince) == 0
	})
	h.waitFor("consumer_lag back to 0", 60*time.Second, func() bool { return sumGauge(t, r, "scimwatch_ingest_consumer_lag") == 0 })
	if n := h.count("SELECT uniqExact(id) FROM %s.events"); n != 4000 {
		t.Errorf("%d distinct ids, want 4000", n)
	}
}

func TestEmbeddedKafka(t *testing.T) {
	// The broker `scimwatch ingest` embeds when no brokers are configured.
	ek, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		t.Fatal(err)
	}
	defer ek.Close()
	h := newHarness(t, ek.ListenAddrs(), testenv.ClickHouse(t))
	h.produce(synth.Records(6, 1000, 0.6)...)
	h.produce([]byte("garbage"))
	r := h.start(h.config())
	h.waitFor("1000 events through kfake", 60*time.Second, func() bool { return h.uniqueEvents() == 1000 })
	h.waitFor("the dead letter", 30*time.Second, func() bool {
		return testutil.ToFloat64(r.in.metrics.deadLettered.WithLabelValues(h.topic, reasonInvalid)) == 1
	})
}

// sumGauge sums a gauge's series.
func sumGauge(t *testing.T, r *running, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
