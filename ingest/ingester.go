// Package ingest gets records in: the ingester, a Kafka consumer group
// (package kafka) whose records are normalized (package source) and
// written to ClickHouse in batches (package clickhouse), offsets committed
// after each insert, bad records sent to a dead-letter topic; importer
// loads exports. The service (package service) runs it.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Inserter stores rows; *clickhouse.Store is the real one.
type Inserter interface {
	Insert(ctx context.Context, rows []clickhouse.Row, ingested time.Time) error
}

// Ingester streams raw audit records from Kafka into ClickHouse: a consumer
// group over the configured topics, normalization, batches by rows and by
// time, one INSERT per batch, and offsets committed only after ClickHouse
// acknowledged the batch. Records that cannot be normalized, or are too
// large, go to the dead-letter topic. Delivery is at least once; the events
// table makes results exactly once by id.
type Ingester struct {
	cfg     Config
	store   Inserter
	logger  *slog.Logger
	metrics *metrics
	dlq     deadLetterer
	stall   *stall
	lag     *kafka.Lag
	group   *kafka.Group
	topics  map[string]topicNormalizer

	// OnInsert, when set before Run, is called after each acknowledged
	// insert with its rows and the time the acknowledgement came (the
	// benchmark measures latency with it).
	OnInsert func(rows []clickhouse.Row, acked time.Time)

	mu      sync.Mutex
	running bool
}

type topicNormalizer struct {
	n          source.Normalizer
	tenant     string
	normalized prometheus.Counter
}

// New returns an Ingester writing to store. Its metrics are registered on
// reg.
func New(cfg Config, store Inserter, reg prometheus.Registerer, logger *slog.Logger) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Kafka.Brokers) == 0 {
		return nil, errors.New("kafkago.brokers: none (start the embedded broker first)")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	in := &Ingester{
		cfg:     cfg,
		store:   store,
		logger:  logger,
		metrics: newMetrics(reg),
		topics:  make(map[string]topicNormalizer, len(cfg.Kafka.Topics)),
	}
	for _, t := range cfg.Kafka.Topics {
		n, err := source.ForSource(t.Source)
		if err != nil {
			return nil, err
		}
		in.topics[t.Name] = topicNormalizer{n: n, tenant: t.Tenant, normalized: in.metrics.normalized.WithLabelValues(t.Name)}
	}
	in.dlq = newDeadLetterer(cfg, logger, in.metrics)
	in.stall = &stall{logger: logger, gauge: in.metrics.stuckSince, after: cfg.Retry.StuckAfter, now: time.Now}
	in.lag = kafka.NewLag(cfg.Kafka.Client, in.metrics.lag, LagInterval, logger)
	return in, nil
}

// Run consumes until ctx is cancelled, then lets the current batch land and
// commit (within ShutdownTimeout) and leaves the group. It returns nil after
// a clean shutdown.
func (in *Ingester) Run(ctx context.Context) error {
	in.mu.Lock()
	if in.running {
		in.mu.Unlock()
		return errors.New("ingester already running")
	}
	in.running = true
	in.mu.Unlock()
	defer in.dlq.Close()

	topics := make([]string, 0, len(in.topics))
	for _, t := range in.cfg.Kafka.Topics {
		topics = append(topics, t.Name)
	}
	in.group = &kafka.Group{Client: in.cfg.Kafka.Client, ID: in.cfg.Kafka.Group, Topics: topics, StartLatest: in.cfg.Kafka.StartOffset == "latest",
		Backoff: *in.backoff(), Logger: in.logger, OnJoinError: func(error) { in.metrics.kafkaErrors.WithLabelValues("group").Inc() }}
	lctx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go in.lag.Run(lctx)
	return in.group.Run(ctx, func(ctx context.Context, gen *kafkago.Generation) {
		in.metrics.generations.Inc()
		done := in.runGeneration(ctx, gen)
		select {
		case <-done:
		case <-ctx.Done():
			select {
			case <-done:
			case <-time.After(in.cfg.ShutdownTimeout + 5*time.Second):
				in.logger.Warn("shutdown: batch did not finish in time; it will be re-read")
			}
		}
	})
}

// LagInterval is how often the consumer lag of the assigned partitions is
// asked of the broker.
var LagInterval = 5 * time.Second

// runGeneration starts a reader per assigned partition and the batcher.
// The returned channel closes when the batcher returns.
func (in *Ingester) runGeneration(ctx context.Context, gen *kafkago.Generation) <-chan struct{} {
	items := make(chan item, in.cfg.Batch.Queue)
	done := make(chan struct{})
	for topic, parts := range gen.Assignments {
		for _, pa := range parts {
			gen.Start(func(gctx context.Context) { in.readPartition(ctx, gctx, topic, pa, items) })
		}
	}
	gen.Start(func(gctx context.Context) {
		defer close(done)
		b := batcher{in: in, gen: gen}
		b.run(ctx, gctx, items)
	})
	return done
}

// Ready reports whether the Ingester can work: Kafka answers, ClickHouse
// answers and its migrations are applied, and the batch in flight has not
// failed to be written for longer than retry.stuck_after.
func (in *Ingester) Ready(ctx context.Context, store *clickhouse.Store) error {
	errs := []error{in.stall.check()}
	if store != nil {
		if err := store.Ping(ctx); err != nil {
			errs = append(errs, fmt.Errorf("clickhouse: %w", err))
		} else if !store.Migrated() {
			errs = append(errs, errors.New("clickhouse: migrations not applied"))
		}
	}
	if err := in.cfg.Kafka.Client.Reachable(ctx); err != nil {
		errs = append(errs, fmt.Errorf("kafka: %w", err))
	}
	return errors.Join(errs...)
}

func (in *Ingester) backoff() *kafka.Backoff {
	return &kafka.Backoff{Initial: in.cfg.Retry.InitialBackoff, Max: in.cfg.Retry.MaxBackoff}
}
