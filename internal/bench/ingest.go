// Package bench holds scimwatch's benchmark commands (scimwatch bench
// ingest, alerting, run, dashboards, history): each starts what it
// measures on the real services and prints medians and percentiles.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/service"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type bench struct {
	client kafka.Client
	share  float64
	out    io.Writer
	gen    *synth.Generator

	mu        sync.Mutex
	inserted  int
	firstAck  time.Time
	firstRows int
	lastAck   time.Time
	latStart  uint64 // produced_ms from which rows count for latency
	latencies []time.Duration
}

// preflight checks that Kafka and ClickHouse answer, so that the benchmark
// fails at once with what to do rather than waiting on a service that is
// not there.
func preflight(ctx context.Context, client kafka.Client, chAddr string) error {
	const hint = "start the services with ./.ci/services.sh start, or name others with --brokers and --clickhouse"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var errs []error
	if err := client.Reachable(ctx); err != nil {
		errs = append(errs, fmt.Errorf("kafka at %s does not answer: %w", client.Brokers[0], err))
	}
	if err := clickhouse.Reachable(ctx, chAddr); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w\n%s", errors.Join(errs...), hint)
	}
	return nil
}

func (b *bench) run(ctx context.Context, chAddr, compression string, count, latCount, rate, partitions, maxRows int, maxWait time.Duration) error {
	if err := preflight(ctx, b.client, chAddr); err != nil {
		return err
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := "scimwatch-bench-" + id
	client := b.client
	if err := client.CreateTopics(ctx, partitions, topic); err != nil {
		return fmt.Errorf("creating topic: %w", err)
	}
	if conn, err := client.Dial(ctx); err == nil {
		defer conn.Close()
		defer conn.DeleteTopics(topic) //nolint:errcheck // best effort
	}
	b.gen = synth.New(7, time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), 10*time.Millisecond, 20000)

	w := client.Writer(topic)
	w.Balancer, w.BatchSize, w.BatchBytes, w.BatchTimeout, w.Compression = &kafkago.RoundRobin{}, 10000, 32<<20, 5*time.Millisecond, kafkago.Lz4
	defer w.Close()
	start := time.Now()
	if err := b.produce(ctx, w, count, 0); err != nil {
		return err
	}
	fmt.Fprintf(b.out, "produced %d records to %s (%d partitions) in %.1f s (%.0f records/s)\n",
		count, topic, partitions, time.Since(start).Seconds(), float64(count)/time.Since(start).Seconds())

	cfg := service.DefaultConfig()
	cfg.Kafka.Client = b.client
	cfg.Kafka.Group = topic
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: topic, Source: source.SourceAuto, Tenant: "bench"}}
	cfg.ClickHouse.Addrs = []string{chAddr}
	cfg.ClickHouse.Compression = compression
	cfg.ClickHouse.Database = "scimwatch_bench_" + id
	cfg.Batch.MaxRows, cfg.Batch.MaxWait = maxRows, maxWait
	cfg.HTTP.Listen = "127.0.0.1:0"
	defer clickhouse.DropDatabase(cfg.ClickHouse)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{})
	opts := service.RunOptions{IngestOnly: true, OnInsert: b.onInsert, OnServing: func([]string, string) { close(ready) }}
	errc := make(chan error, 1)
	go func() { errc <- service.Run(runCtx, "", cfg, opts) }()
	select {
	case <-ready:
	case err := <-errc:
		return err
	}
	t0 := time.Now()
	if err := b.waitInserted(ctx, count, errc); err != nil {
		return err
	}
	b.mu.Lock()
	wall := b.lastAck.Sub(t0)
	steady := float64(b.inserted-b.firstRows) / b.lastAck.Sub(b.firstAck).Seconds()
	b.mu.Unlock()
	fmt.Fprintf(b.out, "throughput: %d events in %.1f s from start (group join included): %.0f events/s; first to last insert: %.0f events/s\n",
		count, wall.Seconds(), float64(count)/wall.Seconds(), steady)

	if latCount > 0 {
		b.mu.Lock()
		b.latStart = uint64(time.Now().UnixMilli())
		b.mu.Unlock()
		if err := b.produce(ctx, w, latCount, rate); err != nil {
			return err
		}
		if err := b.waitInserted(ctx, count+latCount, errc); err != nil {
			return err
		}
		b.mu.Lock()
		lat := slices.Clone(b.latencies)
		b.mu.Unlock()
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		fmt.Fprintf(b.out, "latency at %d records/s, produce to insert acknowledged, %d events: p50 %v, p99 %v, max %v (batch.max_wait %v)\n",
			rate, len(lat), q(0.50).Round(time.Millisecond), q(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), maxWait)
	}
	stop()
	if err := <-errc; err != nil {
		return err
	}
	fmt.Fprintf(b.out, "peak RSS: %s (producer and ingester in one process)\n", peakRSS())
	return nil
}

// produce writes n generated records, at rate records/s if rate > 0.
func (b *bench) produce(ctx context.Context, w *kafkago.Writer, n, rate int) error {
	const chunk = 10000
	step := chunk
	var tick *time.Ticker
	if rate > 0 {
		step = max(1, rate/100)
		tick = time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
	}
	msgs := make([]kafkago.Message, 0, step)
	for done := 0; done < n; {
		msgs = msgs[:0]
		for i := 0; i < step && done+i < n; i++ {
			v, _ := b.gen.Next(nil, b.share)
			msgs = append(msgs, kafkago.Message{Value: v})
		}
		if tick != nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
			now := time.Now()
			for i := range msgs {
				msgs[i].Time = now
			}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("producing: %w", err)
		}
		done += len(msgs)
	}
	return nil
}

func (b *bench) onInsert(rows []clickhouse.Row, acked time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.firstAck.IsZero() {
		b.firstAck, b.firstRows = acked, len(rows)
	}
	b.inserted += len(rows)
	b.lastAck = acked
	if b.latStart == 0 {
		return
	}
	for i := range rows {
		if p := rows[i].ProducedMs; p >= b.latStart {
			b.latencies = append(b.latencies, acked.Sub(time.UnixMilli(int64(p))))
		}
	}
}

func (b *bench) waitInserted(ctx context.Context, n int, errc <-chan error) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		b.mu.Lock()
		got := b.inserted
		b.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-t.C:
		case err := <-errc:
			return errors.Join(errors.New("ingest stopped"), err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// peakRSS reads the process's peak resident set size from /proc.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
		}
	}
	return "unknown"
}

// IO is where a benchmark writes: its figures to Stdout, progress and
// logs to Stderr.
type IO struct {
	Stdout, Stderr io.Writer
}

// Ingest measures the ingest path (scimwatch bench ingest): records
// produced to a new topic through client, then ingested into a new database;
// throughput from start, then latency at rate.
func Ingest(ctx context.Context, out io.Writer, client kafka.Client, share float64, chAddr, compression string, count, latCount, rate, partitions, maxRows int, maxWait time.Duration) error {
	b := &bench{client: client, share: share, out: out}
	return b.run(ctx, chAddr, compression, count, latCount, rate, partitions, maxRows, maxWait)
}
