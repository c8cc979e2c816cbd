// Package consume feeds the detection engine from Kafka: a consumer group
// of its own over the topics ingest reads, so that alerts never wait for
// ClickHouse. When a partition is assigned (start, restart, rebalance) it
// is re-read from a while before its committed offset, so that the
// windows and sequences open when it was last read are rebuilt; the
// alerts that re-reading raises again carry the ids they had (an alert's
// id is its rule, tenant, key and first event time), and the notifier
// takes them as known.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/kafka/partition"
	"github.com/scimwatch/scimwatch/ingest/source"
)

// Topic is a topic to read, with the source and tenant of its records.
type Topic struct {
	Name, Source, Tenant string
}

// Config says what to read.
type Config struct {
	Brokers []string
	// Group is the consumer group: not ingest's.
	Group  string
	Topics []Topic
	// Replay is how far back (in record time) before its committed offset
	// a newly assigned partition is re-read.
	Replay time.Duration
	// StartLatest: a partition with no committed offset starts at its end
	// (else at its beginning).
	StartLatest bool
	// CommitEvery is how often read offsets are committed.
	CommitEvery    time.Duration
	MaxRecordBytes int
	// Limits bound what one event may carry, as ingest's (zero: the
	// defaults).
	Limits source.Limits
}

// LagInterval is how often the lag of the assigned partitions is asked of
// the broker.
var LagInterval = 5 * time.Second

// Processor is what records become events for: the engine.
type Processor interface {
	Process(ev *event.Event) error
}

// Consumer reads the topics and hands each event to the processor.
type Consumer struct {
	cfg     Config
	proc    Processor
	logger  *slog.Logger
	metrics *metrics
	norms   map[string]source.Normalizer
	tenants map[string]string
	joined  atomic.Bool
	lag     *partition.Lag
}

// New returns a Consumer; reg may be nil.
func New(cfg Config, proc Processor, reg prometheus.Registerer, logger *slog.Logger) (*Consumer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Group == "" || len(cfg.Brokers) == 0 || len(cfg.Topics) == 0 {
		return nil, errors.New("consume: brokers, group and topics are required")
	}
	if cfg.CommitEvery <= 0 {
		cfg.CommitEvery = time.Second
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = source.DefaultMaxRecord
	}
	c := &Consumer{cfg: cfg, proc: proc, logger: logger, metrics: newMetrics(reg), norms: map[string]source.Normalizer{}, tenants: map[string]string{}}
	c.lag = partition.NewLag(cfg.Brokers, &kafkago.Transport{}, c.metrics.lag, LagInterval, logger)
	for _, t := range cfg.Topics {
		n, err := source.ForSource(t.Source)
		if err != nil {
			return nil, fmt.Errorf("consume: topic %s: %w", t.Name, err)
		}
		if a, ok := n.(source.Auto); ok {
			a.SkipRaw = true // detection does not need the raw record
			n = a
		}
		c.norms[t.Name], c.tenants[t.Name] = n, t.Tenant
	}
	return c, nil
}

// Joined reports whether the consumer has joined its group (readiness).
func (c *Consumer) Joined() bool { return c.joined.Load() }

// Run consumes until ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	topics := make([]string, 0, len(c.cfg.Topics))
	for _, t := range c.cfg.Topics {
		topics = append(topics, t.Name)
	}
	start := kafkago.FirstOffset
	if c.cfg.StartLatest {
		start = kafkago.LastOffset
	}
	group, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID: c.cfg.Group, Brokers: c.cfg.Brokers, Topics: topics, StartOffset: start,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: time.Second, Timeout: 10 * time.Second,
		Logger:      kafkago.LoggerFunc(func(string, ...any) {}),
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) { c.logger.Debug("kafka group", "msg", fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("consume: consumer group: %w", err)
	}
	defer group.Close()
	lctx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go c.lag.Run(lctx)
	wait := time.Second
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.joined.Store(false)
			c.logger.Warn("detector joining its consumer group", "group", c.cfg.Group, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, 30*time.Second)
			continue
		}
		wait = time.Second
		c.joined.Store(true)
		c.metrics.generations.Inc()
		c.runGeneration(ctx, gen)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// runGeneration reads every assigned partition until the generation ends,
// committing read offsets every CommitEvery.
func (c *Consumer) runGeneration(ctx context.Context, gen *kafkago.Generation) {
	var mu sync.Mutex
	read := map[string]map[int]int64{} // next offset to read, by topic and partition
	var wg sync.WaitGroup
	for topic, parts := range gen.Assignments {
		read[topic] = map[int]int64{}
		for _, pa := range parts {
			wg.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				// Until the generation ends or the consumer stops.
				rctx, cancel := context.WithCancel(gctx)
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
				c.readPartition(rctx, topic, pa, func(next int64) {
					mu.Lock()
					read[topic][pa.ID] = next
					mu.Unlock()
				})
			})
		}
	}
	commit := func() {
		mu.Lock()
		offs := map[string]map[int]int64{}
		for t, ps := range read {
			for p, o := range ps {
				if offs[t] == nil {
					offs[t] = map[int]int64{}
				}
				offs[t][p] = o
			}
		}
		mu.Unlock()
		if len(offs) == 0 {
			return
		}
		if err := gen.CommitOffsets(offs); err != nil {
			c.logger.Debug("detector committing offsets", "err", err)
		}
	}
	done := make(chan struct{})
	gen.Start(func(gctx context.Context) {
		defer close(done)
		t := time.NewTicker(c.cfg.CommitEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				// Stopping: the readers stop, then what they read is
				// committed while the generation is alive.
				wg.Wait()
				commit()
				return
			case <-gctx.Done():
				return // a rebalance: the next generation re-reads the window
			case <-t.C:
				commit()
			}
		}
	})
	<-done
	wg.Wait()
}

// readPartition reads one partition, from Replay before its committed
// offset, and reports each offset it has processed up to.
func (c *Consumer) readPartition(ctx context.Context, topic string, pa kafkago.PartitionAssignment, progress func(next int64)) {
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: c.cfg.Brokers, Topic: topic, Partition: pa.ID,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond, ReadBackoffMin: 50 * time.Millisecond, ReadBackoffMax: time.Second})
	defer r.Close()
	committed := pa.Offset
	from := committed
	if committed > 0 && c.cfg.Replay > 0 {
		// The time of the last record read, then the offset Replay before it.
		if err := r.SetOffset(committed - 1); err == nil {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			m, err := r.ReadMessage(rctx)
			cancel()
			if err == nil {
				if err := r.SetOffsetAt(ctx, m.Time.Add(-c.cfg.Replay)); err == nil {
					from = r.Offset()
				}
			}
		}
	}
	if from < 0 {
		from = committed // FirstOffset or LastOffset
	}
	if err := r.SetOffset(from); err != nil {
		c.logger.Error("detector seeking", "topic", topic, "partition", pa.ID, "err", err)
		return
	}
	c.logger.Info("detector reading partition", "topic", topic, "partition", pa.ID, "committed", committed, "from", from)
	norm, tenant := c.norms[topic], c.tenants[topic]
	// The series this partition updates, looked up once, not per record.
	live, replayed := c.metrics.records.WithLabelValues(topic, "false"), c.metrics.records.WithLabelValues(topic, "true")
	rejected := c.metrics.rejected.WithLabelValues(topic)
	pos := c.lag.Track(topic, pa.ID, from)
	defer c.lag.Forget(topic, pa.ID)
	// A broker error (a restart, a leader moving) is retried with backoff
	// for as long as the partition is assigned: it never stops detection
	// of the partition silently.
	bo := &partition.Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second}
	onErr := func(err error) {
		c.metrics.fetchErrors.WithLabelValues(topic).Inc()
		c.logger.Warn("detector fetching; will retry", "topic", topic, "partition", pa.ID, "err", err)
	}
	var evs []event.Event
	var err error
	for {
		m, ok := partition.Fetch(ctx, r, bo, onErr)
		if !ok {
			return
		}
		pos.Set(m.Offset + 1)
		if m.Offset < committed {
			replayed.Inc()
		} else {
			live.Inc()
		}
		if len(m.Value) > c.cfg.MaxRecordBytes {
			rejected.Inc()
			evs = evs[:0]
		} else if evs, err = norm.Normalize(evs[:0], m.Value, tenant); err != nil {
			// Ingest dead-letters what cannot be read; the detector counts it.
			rejected.Inc()
			c.logger.Debug("detector skipping a record it cannot read", "topic", topic, "partition", pa.ID, "offset", m.Offset, "err", err)
		} else {
			c.cfg.Limits.Apply(evs, partition.Received(m)) // ingest counts what it cuts
		}
		for i := range evs {
			// The engine keeps what its sink refuses and says so itself.
			_ = c.proc.Process(&evs[i])
		}
		progress(m.Offset + 1)
	}
}

type metrics struct {
	records     *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	fetchErrors *prometheus.CounterVec
	lag         *prometheus.GaugeVec
	generations prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	const ns, sub = "scimwatch", "detector"
	return &metrics{
		records: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_total",
			Help: "Records the detector read from Kafka, by topic and whether they were re-read to rebuild state (replay)."}, []string{"topic", "replay"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_rejected_total",
			Help: "Records the detector could not read (ingest dead-letters them), by topic."}, []string{"topic"}),
		fetchErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "fetch_errors_total",
			Help: "Errors fetching from Kafka, by topic; each fetch is retried with backoff."}, []string{"topic"}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_lag",
			Help: "Records behind the partition's end, by topic and partition (asked of the broker every few seconds, also while the detector cannot move)."}, []string{"topic", "partition"}),
		generations: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "group_generations_total",
			Help: "Consumer group generations (rebalances) the detector joined."}),
	}
}
