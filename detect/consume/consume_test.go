package consume

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/kafka"
)

type counter struct {
	mu  sync.Mutex
	ids []string
}

func (c *counter) Process(ev *event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, ev.ID)
	return nil
}

func (c *counter) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

func canonical(id string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"time":%q,"tenant":"acme","source":"okta","raw_type":"x","action":"user.update","outcome":"success"}`,
		id, time.Now().UTC().Format(time.RFC3339Nano)))
}

// TestReadsAndSkips: the detector hands each record's events to the
// engine once; a record that cannot be read, or is too large, is counted
// and skipped, and nothing before it is handed over again. (Against the
// embedded broker; scimwatch run's tests use the real one.)
func TestReadsAndSkips(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: "audit", AllowAutoTopicCreation: true, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := []kafkago.Message{{Value: canonical("e1")}, {Value: []byte("not json")}, {Value: canonical("e2")},
		{Value: []byte(`{"id":"big","pad":"` + strings.Repeat("x", 4096) + `"}`)}, {Value: canonical("e3")}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for err := w.WriteMessages(ctx, msgs...); err != nil; err = w.WriteMessages(ctx, msgs...) {
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the topic being created
	}
	proc := &counter{}
	reg := prometheus.NewRegistry()
	cons, err := New(Config{Client: kafka.Client{Brokers: brokers}, Group: "g", Topics: []Topic{{Name: "audit", Source: "auto", Tenant: "acme"}}, MaxRecordBytes: 1024}, proc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(rctx) }()
	for len(proc.seen()) < 3 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything handed over twice, handed over
	if !cons.Joined() {
		t.Error("reading, but not joined to its group")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if cons.Joined() {
		t.Error("stopped, and still says it is in its group (readiness would lie)")
	}
	if got := strings.Join(proc.seen(), " "); got != "e1 e2 e3" {
		t.Errorf("events handed over: %s, want e1 e2 e3", got)
	}
	if n := testutil.ToFloat64(cons.metrics.rejected.WithLabelValues("audit")); n != 2 {
		t.Errorf("%v records rejected, want 2 (not JSON, too large)", n)
	}
}

func init() { LagInterval = 100 * time.Millisecond }

// produce writes records to topic on brokers, retrying while the embedded
// broker creates the topic.
func produce(t *testing.T, brokers []string, topic string, values ...[]byte) {
	t.Helper()
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, AllowAutoTopicCreation: true, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafkago.Message, len(values))
	for i, v := range values {
		msgs[i] = kafkago.Message{Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for err := w.WriteMessages(ctx, msgs...); err != nil; err = w.WriteMessages(ctx, msgs...) {
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBrokerErrorDoesNotStopAPartition: a fetch the broker answers with an
// error (a storage error, as a broker whose disk fails for a moment sends)
// is retried; detection of the partition goes on without waiting for a
// rebalance. The reader once returned on its first error and the partition
// was not read again until the group rebalanced.
func TestBrokerErrorDoesNotStopAPartition(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	produce(t, brokers, "audit", canonical("before"))
	proc := &counter{}
	reg := prometheus.NewRegistry()
	cons, err := New(Config{Client: kafka.Client{Brokers: brokers}, Group: "g", Topics: []Topic{{Name: "audit", Source: "auto", Tenant: "acme"}}}, proc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	defer func() { stop(); <-done }()
	waitFor(t, "the first record", func() bool { return len(proc.seen()) == 1 })

	// The next three fetches fail with KAFKA_STORAGE_ERROR.
	var injected atomic.Int32
	c.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if injected.Load() >= 3 {
			return nil, nil, false
		}
		injected.Add(1)
		req := kr.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.KafkaStorageError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	waitFor(t, "a fetch error", func() bool { return testutil.ToFloat64(cons.metrics.fetchErrors.WithLabelValues("audit")) >= 1 })
	produce(t, brokers, "audit", canonical("after"))
	waitFor(t, "the record produced after the error", func() bool { return len(proc.seen()) == 2 })
	if g := testutil.ToFloat64(cons.metrics.generations); g != 1 {
		t.Errorf("%v generations: the partition came back through a rebalance, not a retry", g)
	}
}

// blocking is a processor that takes one event and then blocks until
// released: a detector whose alert store is down.
type blocking struct {
	counter
	release chan struct{}
}

func (b *blocking) Process(ev *event.Event) error {
	if len(b.seen()) > 0 {
		<-b.release
	}
	return b.counter.Process(ev)
}

// TestLagWhileBlocked: the lag goes on being measured while the detector
// cannot move; it once froze at its last value, since it was updated only
// when a record was fetched.
func TestLagWhileBlocked(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	proc := &blocking{release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	cons, err := New(Config{Client: kafka.Client{Brokers: brokers}, Group: "g", Topics: []Topic{{Name: "audit", Source: "auto", Tenant: "acme"}}}, proc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, "audit", canonical("e0"))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	defer func() { close(proc.release); stop(); <-done }()
	waitFor(t, "the first record", func() bool { return len(proc.seen()) == 1 })
	var more [][]byte
	for i := range 50 {
		more = append(more, canonical(fmt.Sprint("e", i+1)))
	}
	produce(t, brokers, "audit", more...)
	lag := cons.metrics.lag.WithLabelValues("audit", "0")
	waitFor(t, "the lag of the 50 records behind the blocked one", func() bool { return testutil.ToFloat64(lag) >= 49 })
}
