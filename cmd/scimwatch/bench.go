package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
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
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func benchCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "bench ingest",
		about: `Measures the ingest path against a real broker and ClickHouse: produces
--count simulated records (mixed Okta and Entra ID, sized like the vendors'
own) to a topic of --partitions partitions, ingests them and prints events/s;
then produces --latency-count records at --rate while ingesting and prints the
time from produce to insert acknowledged (p50, p99, max); then the peak RSS of
the process (producer included). Uses a topic, group and database of its own,
dropped at the end. Start the services first: ./.ci/services.sh start.`,
		example: `scimwatch bench ingest --count 1000000 --partitions 8 --compression none`})
	brokers := fs.String("brokers", envOr("SCIMWATCH_TEST_KAFKA", "127.0.0.1:19092"), "Kafka `BROKERS`, comma-separated host:port")
	chAddr := fs.String("clickhouse", envOr("SCIMWATCH_TEST_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native `ADDRESS`")
	count := fs.Int("count", 1000000, "records for the throughput run, produced before ingest starts")
	latCount := fs.Int("latency-count", 300000, "records for the latency run, produced at --rate while ingest runs")
	rate := fs.Int("rate", 50000, "records/s of the latency run")
	partitions := fs.Int("partitions", 4, "partitions of the benchmark topic")
	share := fs.Float64("okta-share", 0.6, "share of Okta records (the rest Entra ID)")
	maxRows := fs.Int("max-rows", 50000, "batch.max_rows")
	maxWait := fs.Duration("max-wait", time.Second, "batch.max_wait")
	compression := fs.String("compression", "lz4", "clickhouse.compression: `lz4|none`")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "scimwatch bench ingest:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "scimwatch bench ingest:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	b := &bench{brokers: strings.Split(*brokers, ","), share: *share, out: stdout}
	if err := b.run(ctx, *chAddr, *compression, *count, *latCount, *rate, *partitions, *maxRows, *maxWait); err != nil {
		fmt.Fprintln(stderr, "scimwatch bench ingest:", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type bench struct {
	brokers []string
	share   float64
	out     io.Writer
	gen     *synth.Generator

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
func preflight(ctx context.Context, brokers []string, chAddr string) error {
	const hint = "start the services with ./.ci/services.sh start, or name others with --brokers and --clickhouse"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var errs []error
	if err := (kafka.Client{Brokers: brokers}).Reachable(ctx); err != nil {
		errs = append(errs, fmt.Errorf("kafka at %s does not answer: %w", brokers[0], err))
	}
	if err := pingClickHouse(ctx, chAddr); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w\n%s", errors.Join(errs...), hint)
	}
	return nil
}

// pingClickHouse checks that ClickHouse at addr answers within 5 s.
func pingClickHouse(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.DialTimeout = []string{addr}, 5*time.Second
	store, err := clickhouse.Open(cfg, nil)
	if err == nil {
		err = store.Ping(ctx)
		store.Close()
	}
	if err != nil {
		return fmt.Errorf("clickhouse at %s does not answer: %w", addr, err)
	}
	return nil
}

func (b *bench) run(ctx context.Context, chAddr, compression string, count, latCount, rate, partitions, maxRows int, maxWait time.Duration) error {
	if err := preflight(ctx, b.brokers, chAddr); err != nil {
		return err
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := "scimwatch-bench-" + id
	client := kafka.Client{Brokers: b.brokers}
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

	cfg := ingest.DefaultConfig()
	cfg.Kafka.Brokers = b.brokers
	cfg.Kafka.Group = topic
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: topic, Source: source.SourceAuto, Tenant: "bench"}}
	cfg.ClickHouse.Addrs = []string{chAddr}
	cfg.ClickHouse.Compression = compression
	cfg.ClickHouse.Database = "scimwatch_bench_" + id
	cfg.Batch.MaxRows, cfg.Batch.MaxWait = maxRows, maxWait
	cfg.HTTP.Listen = "127.0.0.1:0"
	defer dropDatabase(cfg.ClickHouse)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{})
	svc := &ingest.Service{Config: cfg, OnInsert: b.onInsert, Ready: func([]string, string) { close(ready) }}
	errc := make(chan error, 1)
	go func() { errc <- svc.Run(runCtx) }()
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

func dropDatabase(cfg clickhouse.Config) {
	s, err := clickhouse.Open(cfg, nil)
	if err != nil {
		return
	}
	defer s.Close()
	_ = s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
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
