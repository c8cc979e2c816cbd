// Package kafka is the ingest service: a Kafka consumer group whose records
// are normalized (package source) and written to ClickHouse in batches
// (package clickhouse), offsets committed after each insert, bad records sent
// to a dead-letter topic.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/ingest/kafka/partition"
	"github.com/scimwatch/scimwatch/ingest/source"
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
	lag     *partition.Lag
	topics  map[string]topicNormalizer
	dialer  *kafkago.Dialer

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
		dialer:  &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true},
	}
	for _, t := range cfg.Kafka.Topics {
		n, err := source.ForSource(t.Source)
		if err != nil {
			return nil, err
		}
		in.topics[t.Name] = topicNormalizer{n: n, tenant: t.Tenant, normalized: in.metrics.normalized.WithLabelValues(t.Name)}
	}
	in.dlq = newDeadLetterer(cfg, in.dialer, logger, in.metrics)
	in.stall = &stall{logger: logger, gauge: in.metrics.stuckSince, after: cfg.Retry.StuckAfter, now: time.Now}
	in.lag = partition.NewLag(cfg.Kafka.Brokers, &kafkago.Transport{Dial: in.dialer.DialFunc, DialTimeout: in.dialer.Timeout},
		in.metrics.lag, LagInterval, logger)
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
	start := kafkago.FirstOffset
	if in.cfg.Kafka.StartOffset == "latest" {
		start = kafkago.LastOffset
	}
	group, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                in.cfg.Kafka.Group,
		Brokers:           in.cfg.Kafka.Brokers,
		Dialer:            in.dialer,
		Topics:            topics,
		StartOffset:       start,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  rebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		Timeout:           10 * time.Second,
		Logger:            kafkago.LoggerFunc(func(string, ...any) {}),
		ErrorLogger:       kafkago.LoggerFunc(func(msg string, args ...any) { in.logger.Debug("kafka group", "msg", fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	defer group.Close()
	lctx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go in.lag.Run(lctx)

	bo := in.backoff()
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			in.metrics.kafkaErrors.WithLabelValues("group").Inc()
			in.logger.Warn("joining consumer group", "group", in.cfg.Kafka.Group, "err", err)
			if !bo.Wait(ctx) {
				return nil
			}
			continue
		}
		bo.Reset()
		in.metrics.generations.Inc()
		in.logger.Info("consumer group generation", "generation", gen.ID, "assignments", assignmentString(gen.Assignments))
		done := in.runGeneration(ctx, gen)
		select {
		case <-done:
		case <-ctx.Done():
			// Shutdown: the batcher lands its batch and commits while the
			// generation is alive; only then leave the group.
			select {
			case <-done:
			case <-time.After(in.cfg.ShutdownTimeout + 5*time.Second):
				in.logger.Warn("shutdown: batch did not finish in time; it will be re-read")
			}
			return nil
		}
	}
}

// LagInterval is how often the consumer lag of the assigned partitions is
// asked of the broker.
var LagInterval = 5 * time.Second

// rebalanceTimeout is how long the broker waits for the group's members to
// rejoin after a rebalance began: the batch in flight lands within it.
const rebalanceTimeout = 10 * time.Second

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
	var kerr error
	for _, b := range in.cfg.Kafka.Brokers {
		var c net.Conn
		if c, kerr = in.dialer.DialContext(ctx, "tcp", b); kerr == nil {
			c.Close()
			break
		}
	}
	if kerr != nil {
		errs = append(errs, fmt.Errorf("kafka: %w", kerr))
	}
	return errors.Join(errs...)
}

func assignmentString(a map[string][]kafkago.PartitionAssignment) string {
	var s string
	for t, ps := range a {
		s += t + ":"
		for i, p := range ps {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprint(p.ID)
		}
		s += " "
	}
	return s
}

func (in *Ingester) backoff() *partition.Backoff {
	return &partition.Backoff{Initial: in.cfg.Retry.InitialBackoff, Max: in.cfg.Retry.MaxBackoff}
}
