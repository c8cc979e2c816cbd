package kafka

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
)

// Lag measures how many records of each partition a consumer has not
// taken yet: the partition's end, asked of the broker every interval, less
// the consumer's position. It goes on measuring while the consumer is
// blocked (ClickHouse down, a full queue): that is when lag grows, and
// when it matters.
type Lag struct {
	client   *kafkago.Client
	gauge    *prometheus.GaugeVec
	interval time.Duration
	logger   *slog.Logger

	mu  sync.Mutex
	pos map[topicPartition]*Position
}

type topicPartition struct {
	topic     string
	partition int
}

// Position is a consumer's next offset in one partition.
type Position struct {
	next  atomic.Int64
	gauge prometheus.Gauge
}

// Set records that every offset before next was taken.
func (p *Position) Set(next int64) { p.next.Store(next) }

// NewLag returns a Lag asking c's brokers, setting gauge (labels topic and
// partition).
func NewLag(c Client, gauge *prometheus.GaugeVec, interval time.Duration, logger *slog.Logger) *Lag {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Lag{client: &kafkago.Client{Addr: kafkago.TCP(c.Brokers...), Transport: c.Transport(), Timeout: interval},
		gauge: gauge, interval: interval, logger: logger, pos: map[topicPartition]*Position{}}
}

// Track starts measuring a partition the consumer was assigned, from next.
// A negative next (FirstOffset, LastOffset) is unknown until Set.
func (l *Lag) Track(topic string, partition int, next int64) *Position {
	p := &Position{gauge: l.gauge.WithLabelValues(topic, strconv.Itoa(partition))}
	p.next.Store(next)
	l.mu.Lock()
	l.pos[topicPartition{topic, partition}] = p
	l.mu.Unlock()
	return p
}

// Set records the next offset of a tracked partition (ingest: the offset
// committed after ClickHouse acknowledged the batch).
func (l *Lag) Set(topic string, partition int, next int64) {
	l.mu.Lock()
	p := l.pos[topicPartition{topic, partition}]
	l.mu.Unlock()
	if p != nil {
		p.Set(next)
	}
}

// Forget stops measuring a partition (it was revoked) and drops its series.
func (l *Lag) Forget(topic string, partition int) {
	l.mu.Lock()
	delete(l.pos, topicPartition{topic, partition})
	l.mu.Unlock()
	l.gauge.DeleteLabelValues(topic, strconv.Itoa(partition))
}

// Run measures every interval until ctx ends.
func (l *Lag) Run(ctx context.Context) {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Measure(ctx)
		}
	}
}

// Measure asks the broker for the end of every tracked partition and sets
// each one's lag. A broker that does not answer leaves the last values.
func (l *Lag) Measure(ctx context.Context) {
	l.mu.Lock()
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	pos := make(map[topicPartition]*Position, len(l.pos))
	for tp, p := range l.pos {
		req.Topics[tp.topic] = append(req.Topics[tp.topic], kafkago.LastOffsetOf(tp.partition))
		pos[tp] = p
	}
	l.mu.Unlock()
	if len(pos) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, l.interval)
	defer cancel()
	res, err := l.client.ListOffsets(ctx, req)
	if err != nil {
		l.logger.Debug("measuring consumer lag", "err", err)
		return
	}
	for topic, parts := range res.Topics {
		for _, po := range parts {
			p := pos[topicPartition{topic, po.Partition}]
			if p == nil || po.Error != nil {
				continue
			}
			if next := p.next.Load(); next >= 0 {
				p.gauge.Set(float64(max(0, po.LastOffset-next)))
			}
		}
	}
}
