package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/kafka/embedded"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func ingestCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "ingest",
		about: `Streams audit records from Kafka into ClickHouse until SIGINT or SIGTERM: a
consumer group over the configured topics, each record normalized, events
written in batches, offsets committed after each insert, records that cannot be
read sent to the dead-letter topic. With no kafka.brokers configured it runs an
embedded in-memory broker. The config file is described in README.md,
"scimwatch ingest". --generate N produces N simulated records (tenants acme,
globex and initech), ingests them, prints a summary read back from ClickHouse
and exits.`,
		example: `scimwatch ingest --config ingest/kafka/testdata/quickstart.yaml --generate 20000`})
	config := fs.String("config", "", "YAML config `FILE` (required)")
	level := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	generate := fs.Int("generate", 0, "produce this many simulated records to the first topic, ingest them, print a summary and exit")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	if *config == "" {
		return fs.fail("--config is required")
	}
	if fs.NArg() > 0 {
		return fs.fail("takes no arguments")
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch ingest:", err)
		return 2
	}
	cfg, err := ingest.LoadConfig(*config)
	if err != nil {
		fmt.Fprintf(stderr, "scimwatch ingest: %v\n", err)
		return 1
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if len(cfg.Kafka.Brokers) == 0 {
		ek, err := embedded.Start()
		if err != nil {
			fmt.Fprintln(stderr, "scimwatch ingest:", err)
			return 1
		}
		defer ek.Close()
		cfg.Kafka.Brokers = ek.Brokers()
		logger.Warn("no kafka.brokers configured: using an embedded in-memory broker", "brokers", cfg.Kafka.Brokers)
	}
	svc := &ingest.Service{Config: cfg, Registry: reg, Logger: logger}

	var demo *demoRun
	if *generate > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		demo = &demoRun{want: int64(*generate), cancel: cancel, topic: cfg.Kafka.Topics[0].Name, logger: logger, start: time.Now()}
		svc.Ready = demo.produce(ctx)
		svc.OnInsert = demo.count
	}
	if err := svc.Run(ctx); err != nil {
		logger.Error("ingest", "err", err)
		return 1
	}
	if demo != nil {
		return demo.summary(cfg.ClickHouse, stdout, stderr)
	}
	return 0
}

// demoRun is `ingest --generate N`: simulated records through the real
// pipeline, then a summary read back from ClickHouse.
type demoRun struct {
	want     int64
	inserted atomic.Int64
	cancel   context.CancelFunc
	topic    string
	logger   *slog.Logger
	start    time.Time
	elapsed  time.Duration
}

func (d *demoRun) produce(ctx context.Context) func([]string, string) {
	return func(brokers []string, _ string) {
		go func() {
			w := kafka.Client{Brokers: brokers}.Writer(d.topic)
			w.Balancer, w.BatchSize, w.BatchTimeout, w.AllowAutoTopicCreation = &kafkago.Hash{}, 5000, 20*time.Millisecond, true
			defer w.Close()
			g := synth.New(uint64(time.Now().UnixNano()), time.Now().Add(-24*time.Hour), 24*time.Hour/time.Duration(d.want), 2000)
			g.Tenants = []string{"acme", "globex", "initech"}
			batch := make([]kafkago.Message, 0, 5000)
			for i := int64(0); i < d.want; i++ {
				v, _ := g.Next(nil, 0.6)
				batch = append(batch, kafkago.Message{Value: v})
				if len(batch) == cap(batch) || i == d.want-1 {
					if err := w.WriteMessages(ctx, batch...); err != nil {
						d.logger.Error("producing simulated records", "err", err)
						d.cancel()
						return
					}
					batch = batch[:0]
				}
			}
			d.logger.Info("produced simulated records", "count", d.want, "topic", d.topic)
		}()
	}
}

func (d *demoRun) count(rows []clickhouse.Row, _ time.Time) {
	if d.inserted.Add(int64(len(rows))) >= d.want {
		d.elapsed = time.Since(d.start)
		d.cancel()
	}
}

func (d *demoRun) summary(cfg clickhouse.Config, stdout, stderr io.Writer) int {
	n := d.inserted.Load()
	if n < d.want {
		fmt.Fprintf(stderr, "scimwatch ingest: stopped after %d of %d events\n", n, d.want)
		return 1
	}
	fmt.Fprintf(stdout, "ingested %d events in %.1f s, from start to the last insert: the group's join, the migrations and\n"+
		"the first batch's wait (batch.max_wait) included; for throughput, run scimwatch bench ingest (README, Performance)\n",
		n, d.elapsed.Seconds())
	store, err := clickhouse.Open(cfg, nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := "SELECT action, count() AS events, uniqExact(actor_id) AS actors FROM " + cfg.Database + ".events_unique GROUP BY action ORDER BY events DESC"
	rows, err := store.Conn().Query(ctx, q)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer rows.Close()
	fmt.Fprintf(stdout, "\n%s\n\n%-22s %10s %8s\n", q, "action", "events", "actors")
	for rows.Next() {
		var (
			action         string
			events, actors uint64
		)
		if err := rows.Scan(&action, &events, &actors); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%-22s %10d %8d\n", action, events, actors)
	}
	return 0
}

func migrateCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "migrate",
		about: `Applies the embedded ClickHouse migrations not yet applied to the database
of the config file (the same file as ingest's), and lists the applied ones.
ingest applies them at start too; several instances may run them at once.`,
		example: `scimwatch migrate --config ingest/kafka/testdata/quickstart.yaml`})
	config := fs.String("config", "", "YAML config `FILE` (required)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	if *config == "" {
		return fs.fail("--config is required")
	}
	cfg, err := ingest.LoadConfig(*config)
	if err != nil {
		fmt.Fprintf(stderr, "scimwatch migrate: %v\n", err)
		return 1
	}
	store, err := clickhouse.Open(cfg.ClickHouse, nil)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch migrate:", err)
		return 1
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		fmt.Fprintln(stderr, "scimwatch migrate:", err)
		return 1
	}
	applied, err := store.AppliedMigrations(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch migrate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "database %s: migrations %v applied\n", cfg.ClickHouse.Database, applied)
	return 0
}
