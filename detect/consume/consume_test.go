package consume

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/scimwatch/scimwatch/event"
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
	cons, err := New(Config{Brokers: brokers, Group: "g", Topics: []Topic{{Name: "audit", Source: "auto", Tenant: "acme"}}, MaxRecordBytes: 1024}, proc, reg, nil)
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
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(proc.seen(), " "); got != "e1 e2 e3" {
		t.Errorf("events handed over: %s, want e1 e2 e3", got)
	}
	if n := testutil.ToFloat64(cons.metrics.rejected.WithLabelValues("audit")); n != 2 {
		t.Errorf("%v records rejected, want 2 (not JSON, too large)", n)
	}
	if !cons.Joined() {
		t.Error("never joined its group")
	}
}
