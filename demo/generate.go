package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Generated is `ingest --generate N`: simulated records through the real
// pipeline, then a summary read back from ClickHouse.
type Generated struct {
	ctx      context.Context
	want     int64
	inserted atomic.Int64
	cancel   context.CancelFunc
	topic    string
	logger   *slog.Logger
	start    time.Time
	elapsed  time.Duration
}

// Produce starts producing the records once the service serves (a
// RunOptions.OnServing).
func (d *Generated) Produce(brokers []string, _ string) {
	ctx := d.ctx
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

// Count counts what ClickHouse acknowledged (a RunOptions.OnInsert).
func (d *Generated) Count(rows []clickhouse.Row, _ time.Time) {
	if d.inserted.Add(int64(len(rows))) >= d.want {
		d.elapsed = time.Since(d.start)
		d.cancel()
	}
}

// Summary prints what was ingested, read back from ClickHouse; its
// result is the exit status.
func (d *Generated) Summary(cfg clickhouse.Config, stdout, stderr io.Writer) int {
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

// Generate returns the run of n simulated records to topic through the
// real pipeline; cancel stops the service once all are stored.
func Generate(ctx context.Context, cancel context.CancelFunc, n int, topic string, logger *slog.Logger) *Generated {
	return &Generated{ctx: ctx, want: int64(n), cancel: cancel, topic: topic, logger: logger, start: time.Now()}
}
