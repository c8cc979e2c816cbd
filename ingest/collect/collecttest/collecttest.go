// Package collecttest runs collectors in tests: an embedded broker (the
// real Kafka's tests name theirs), a runner, and what reached a topic.
package collecttest

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/kafka/embedded"
)

// Env is a broker and a topic for a collector's records.
type Env struct {
	Client  kafka.Client
	Topic   string
	State   string
	Metrics *collect.Metrics
	Reg     *prometheus.Registry
	// Stop stops the embedded broker (an outage).
	Stop func()
}

// New starts an embedded broker with the topic.
func New(t testing.TB) *Env {
	t.Helper()
	b, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(b.Close) }
	t.Cleanup(stop)
	e := &Env{Client: kafka.Client{Brokers: b.Brokers()}, Topic: "collected", State: "collector-state", Reg: prometheus.NewRegistry(), Stop: stop}
	e.Metrics = collect.NewMetrics(e.Reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Client.CreateTopics(ctx, 2, e.Topic); err != nil {
		t.Fatal(err)
	}
	return e
}

// NewReal is New on the real Kafka of SCIMWATCH_TEST_KAFKA (a benchmark's
// broker), with topics of their own.
func NewReal(t testing.TB, broker string) *Env {
	t.Helper()
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	e := &Env{Client: kafka.Client{Brokers: []string{broker}}, Topic: "collected-" + suffix, State: "collector-state-" + suffix, Reg: prometheus.NewRegistry()}
	e.Metrics = collect.NewMetrics(e.Reg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Client.CreateTopics(ctx, 2, e.Topic); err != nil {
		t.Fatal(err)
	}
	return e
}

// Logger logs to stderr when -v.
func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Run starts a runner of the collectors until the test ends (or stop is
// called).
func (e *Env) Run(t testing.TB, cfg collect.Config, cs ...*collect.Collector) (r *collect.Runner, stop func()) {
	t.Helper()
	cfg.Client, cfg.StateTopic = e.Client, e.State
	r = collect.NewRunner(cfg, cs, e.Metrics, Logger(t))
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			r.Wait()
		}
	}
	t.Cleanup(stop)
	return r, stop
}

// Keys returns the keys of the records in the topic, in each partition's
// order, once there are at least n, or after bound.
func (e *Env) Keys(t testing.TB, n int, bound time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		keys := e.read(t)
		if len(keys) >= n || time.Now().After(deadline) {
			return keys
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *Env) read(t testing.TB) []string {
	var keys []string
	for _, m := range e.messages(t) {
		keys = append(keys, string(m.Key))
	}
	return keys
}

// Values returns the values of the records in the topic.
func (e *Env) Values(t testing.TB) [][]byte {
	t.Helper()
	var vals [][]byte
	for _, m := range e.messages(t) {
		vals = append(vals, m.Value)
	}
	return vals
}

// messages reads the topic's two partitions to their ends.
func (e *Env) messages(t testing.TB) []kafkago.Message {
	var out []kafkago.Message
	for p := range 2 {
		conn, err := e.Client.Dialer().DialLeader(context.Background(), "tcp", e.Client.Brokers[0], e.Topic, p)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := conn.ReadOffsets()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last <= first {
			continue
		}
		r := e.Client.PartitionReader(e.Topic, p, kafka.ReaderConfig{})
		_ = r.SetOffset(first)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
			if m.Offset+1 >= last {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

// WantValues waits for every value served (as the vendor served it) to
// be in the topic, and fails if one is missing or a value in the topic is
// none of them (a record changed on its way).
func (e *Env) WantValues(t testing.TB, served map[string]bool) {
	t.Helper()
	var got map[string]bool
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = map[string]bool{}
		for _, v := range e.Values(t) {
			got[string(v)] = true
		}
		if len(got) >= len(served) {
			break
		}
	}
	for v := range got {
		if !served[v] {
			t.Fatalf("a record changed on its way: %s", v)
		}
	}
	if len(got) != len(served) {
		var missing []string
		for v := range served {
			if !got[v] && len(missing) < 3 {
				missing = append(missing, v)
			}
		}
		t.Fatalf("%d of the %d distinct records served are in Kafka; missing, for one:\n%s", len(got), len(served), strings.Join(missing, "\n"))
	}
}

// Count is how many times each key is in keys.
func Count(keys []string) map[string]int {
	m := map[string]int{}
	for _, k := range keys {
		m[k]++
	}
	return m
}
