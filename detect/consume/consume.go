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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/kafka"
)

// Topic is a topic to read, with the source and tenant of its records.
type Topic struct {
	Name, Source, Tenant string
}

// Config says what to read.
type Config struct {
	Client kafka.Client
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
	lag     *kafka.Lag
	group   *kafka.Group
}

// New returns a Consumer; reg may be nil.
func New(cfg Config, proc Processor, reg prometheus.Registerer, logger *slog.Logger) (*Consumer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Group == "" || len(cfg.Client.Brokers) == 0 || len(cfg.Topics) == 0 {
		return nil, errors.New("consume: brokers, group and topics are required")
	}
	if cfg.CommitEvery <= 0 {
		cfg.CommitEvery = time.Second
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = source.DefaultMaxRecord
	}
	c := &Consumer{cfg: cfg, proc: proc, logger: logger, metrics: newMetrics(reg), norms: map[string]source.Normalizer{}, tenants: map[string]string{}}
	c.lag = kafka.NewLag(cfg.Client, c.metrics.lag, LagInterval, logger)
	topics := make([]string, 0, len(cfg.Topics))
	for _, t := range cfg.Topics {
		topics = append(topics, t.Name)
	}
	c.group = &kafka.Group{Client: cfg.Client, ID: cfg.Group, Topics: topics, StartLatest: cfg.StartLatest, Logger: logger.With("consumer", "detector")}
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
func (c *Consumer) Joined() bool { return c.group.Joined() }

// Run consumes until ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	lctx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go c.lag.Run(lctx)
	return c.group.Run(ctx, func(ctx context.Context, gen *kafkago.Generation) {
		c.metrics.generations.Inc()
		c.runGeneration(ctx, gen)
	})
}

// runGeneration reads every assigned partition until the generation ends,
// committing read offsets every CommitEvery.
func (c *Consumer) runGeneration(ctx context.Context, gen *kafkago.Generation) {
	var offsets kafka.Offsets
	var wg sync.WaitGroup
	for topic, parts := range gen.Assignments {
		for _, pa := range parts {
			wg.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				// Until the generation ends or the consumer stops.
				rctx, cancel := context.WithCancel(gctx)
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
				c.readPartition(rctx, topic, pa, func(next int64) { offsets.Mark(topic, pa.ID, next) })
			})
		}
	}
	commit := func() {
		if err := offsets.Commit(gen); err != nil {
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
	r := c.cfg.Client.PartitionReader(topic, pa.ID, kafka.ReaderConfig{MaxBytes: 10 << 20, BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second})
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
	bo := &kafka.Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second}
	onErr := func(err error) {
		c.metrics.fetchErrors.WithLabelValues(topic).Inc()
		c.logger.Warn("detector fetching; will retry", "topic", topic, "partition", pa.ID, "err", err)
	}
	var evs []event.Event
	var err error
	for {
		m, ok := kafka.Fetch(ctx, r, bo, onErr)
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
			c.cfg.Limits.Apply(evs, kafka.Received(m)) // ingest counts what it cuts
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
