package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/consume"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/kafka/embedded"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// RunOptions are what a caller of Run may add: the demo's, the tests' and
// the benchmarks' hooks. All are optional.
type RunOptions struct {
	Logger *slog.Logger
	// Registry gets the service's metrics (default: a new one).
	Registry *prometheus.Registry
	// Watch is how often rules files are looked at for changes (default 2 s).
	Watch time.Duration
	// OnServing is called once the server listens and the brokers are
	// known (the embedded broker's, when none are configured).
	OnServing func(brokers []string, httpAddr string)
	// OnReady is called once every component is ready.
	OnReady func()
	// OnAlert sees each alert as the notifier takes it.
	OnAlert func(detect.Alert)
	// OnInsert sees each batch ClickHouse acknowledged.
	OnInsert func(rows []clickhouse.Row, acked time.Time)
	// IngestOnly runs ingest whatever the file's components: say
	// (scimwatch ingest, on run's file too), also after a reload.
	IngestOnly bool
	// CollectOnly runs the collectors alone (scimwatch collect).
	CollectOnly bool
}

// Run runs the components cfg enables (ingest, detection with alerting)
// behind one HTTP server until ctx ends. On SIGHUP it loads the config
// from path again and, when it changed and is valid, stops the components
// gracefully and starts them with it (the detector re-reads its window,
// as after a restart); a config that does not load is reported and the
// running one kept. Rules reload without a restart. path may be empty:
// no reloading of the config.
func Run(ctx context.Context, path string, cfg Config, opts RunOptions) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Watch <= 0 {
		opts.Watch = 2 * time.Second
	}
	if opts.IngestOnly {
		cfg.Components.Ingest, cfg.Components.Detect = true, false
	}
	if opts.CollectOnly {
		cfg.Components.Ingest, cfg.Components.Detect = false, false
	}
	if err := cfg.Validate(UsesService); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	current, _ := os.ReadFile(path)
	for {
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- runOnce(sctx, cfg, opts) }()
		restart := false
		for !restart {
			select {
			case err := <-done:
				cancel()
				return err
			case <-hup:
				if path == "" {
					continue
				}
				b, err := os.ReadFile(path)
				if err != nil || bytes.Equal(b, current) {
					continue // unchanged: the rules reload by themselves
				}
				next, err := Load(path, UsesClickHouse)
				if err == nil {
					if opts.IngestOnly {
						next.Components.Ingest, next.Components.Detect = true, false
					}
					if opts.CollectOnly {
						next.Components.Ingest, next.Components.Detect = false, false
					}
					err = next.Validate(UsesService)
				}
				if err != nil {
					opts.Logger.Error("config not reloaded: it does not load; the running one stays", "err", err)
					continue
				}
				opts.Logger.Info("config changed: restarting the components with it", "config", path)
				cancel()
				if err := <-done; err != nil {
					return err
				}
				cfg, current, restart = next, b, true
			}
		}
	}
}

// runOnce runs the enabled components until ctx ends.
func runOnce(ctx context.Context, cfg Config, opts RunOptions) error {
	logger := opts.Logger
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	// A restart with the same registry (SIGHUP) registers these again.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if len(cfg.Kafka.Brokers) == 0 {
		ek, err := embedded.Start()
		if err != nil {
			return err
		}
		defer ek.Close()
		cfg.Kafka.Brokers = ek.Brokers()
		logger.Warn("no kafka.brokers configured: using an embedded in-memory broker", "brokers", cfg.Kafka.Brokers)
	}
	cfg.Config.ShutdownTimeout = cfg.ShutdownTimeout
	if err := cfg.Kafka.Client.Resolve(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	// A broker that answers but refuses scimwatch (a wrong password, an
	// unknown CA, the wrong security_protocol) stops it at once, with why;
	// one that does not answer is an outage the consumers retry through.
	if err := cfg.Kafka.Client.Reachable(ctx); kafka.Misconfigured(err) && ctx.Err() == nil {
		return fmt.Errorf("kafka: %w (check kafka.security_protocol, tls and sasl)", err)
	} else if err != nil && ctx.Err() == nil {
		logger.Warn("kafka does not answer yet; the consumers will retry", "err", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := NewServer(reg)
	var stops []func()
	defer func() {
		cancel()
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()

	var ing *ingestRun
	if cfg.Components.Ingest {
		var err error
		if ing, err = startIngest(cctx, &cfg, srv, reg, opts.OnInsert, logger.With("component", "ingest")); err != nil {
			return err
		}
		stops = append(stops, ing.stop)
	}
	if cfg.Components.Detect {
		stop, err := startDetecting(cctx, &cfg, srv, reg, opts, logger)
		if err != nil {
			return err
		}
		stops = append(stops, stop)
	}
	if cfg.Collectors.Any() && !opts.IngestOnly {
		stop, err := startCollectors(cctx, &cfg, srv, reg, logger.With("component", "collect"))
		if err != nil {
			return err
		}
		stops = append(stops, stop)
	}
	addr, wait, err := srv.Serve(cctx, cfg.HTTP.Listen, logger)
	if err != nil {
		return err
	}
	stops = append([]func(){wait}, stops...) // the server stops last
	if opts.OnServing != nil {
		opts.OnServing(cfg.Kafka.Brokers, addr)
	}
	if opts.OnReady != nil {
		go func() {
			for cctx.Err() == nil && srv.Check(cctx) != nil {
				time.Sleep(100 * time.Millisecond)
			}
			if cctx.Err() == nil {
				opts.OnReady()
			}
		}()
	}
	if ing != nil {
		return ing.run(cctx)
	}
	<-cctx.Done()
	return nil
}

// ingestRun is the ingest component: ClickHouse migrated (retried until it
// answers), its maintenance, and the ingester.
type ingestRun struct {
	store *clickhouse.Store
	in    *ingest.Ingester
	cfg   *Config
	wg    sync.WaitGroup
	log   *slog.Logger
}

func startIngest(ctx context.Context, cfg *Config, srv *Server, reg prometheus.Registerer, onInsert func([]clickhouse.Row, time.Time), logger *slog.Logger) (*ingestRun, error) {
	store, err := clickhouse.Open(cfg.ClickHouse, logger)
	if err != nil {
		return nil, err
	}
	in, err := ingest.New(cfg.Config, store, reg, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	in.OnInsert = onInsert
	srv.Ready("ingest", func(ctx context.Context) error { return in.Ready(ctx, store) })
	return &ingestRun{store: store, in: in, cfg: cfg, log: logger}, nil
}

// run migrates (retrying until ClickHouse answers), starts the
// maintenance and ingests until ctx ends.
func (r *ingestRun) run(ctx context.Context) error {
	bo := &kafka.Backoff{Initial: r.cfg.Retry.InitialBackoff, Max: r.cfg.Retry.MaxBackoff}
	for {
		err := r.store.Migrate(ctx)
		if err == nil {
			break
		}
		r.log.Warn("applying ClickHouse migrations; will retry", "err", err)
		if !bo.Wait(ctx) {
			return nil
		}
	}
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.store.Maintain(ctx, r.cfg.ClickHouse.RollupInterval, r.log) }()
	return r.in.Run(ctx)
}

func (r *ingestRun) stop() {
	r.wg.Wait()
	r.store.Close()
}

// startDetecting starts the detection chain and the detector's consumer.
// The returned stop stops them in order: the consumer first, then the
// chain (the notifications due are delivered within shutdown_timeout).
func startDetecting(ctx context.Context, cfg *Config, srv *Server, reg *prometheus.Registry, opts RunOptions, logger *slog.Logger) (func(), error) {
	alertLog := detect.SinkFunc(func(a detect.Alert) error {
		logger.Info("alert", "id", a.ID, "rule", a.Rule, "severity", a.Severity, "tenant", a.Tenant, "status", a.Status, "count", a.Count, "title", a.Title)
		if opts.OnAlert != nil {
			opts.OnAlert(a)
		}
		return nil
	})
	d, err := NewDetection(ctx, cfg, DetectionOptions{Rules: cfg.Rules, Out: alertLog, Notify: cfg.Alerting.Enabled(), Live: true,
		Watch: opts.Watch, Grace: cfg.ShutdownTimeout}, srv, reg, logger)
	if err != nil {
		return nil, err
	}
	topics := make([]consume.Topic, 0, len(cfg.Kafka.Topics))
	for _, t := range cfg.Kafka.Topics {
		topics = append(topics, consume.Topic{Name: t.Name, Source: t.Source, Tenant: t.Tenant})
	}
	group := cfg.Detector.Group
	if group == "" {
		group = cfg.Kafka.Group + "-detect"
	}
	replay := cfg.Detector.Replay
	if replay == 0 {
		replay = replaySpan(d.Rules, cfg.Detect)
	}
	cons, err := consume.New(consume.Config{Client: cfg.Kafka.Client, Group: group, Topics: topics, Replay: replay,
		StartLatest: cfg.Kafka.StartOffset == "latest", CommitEvery: cfg.Detector.CommitEvery, MaxRecordBytes: cfg.Kafka.MaxRecordBytes,
		Limits: cfg.Limits}, d.Engine, reg, logger.With("component", "detector"))
	if err != nil {
		d.Stop()
		return nil, err
	}
	srv.Ready("detector", func(context.Context) error {
		if !cons.Joined() {
			return errors.New("not in its consumer group yet")
		}
		return nil
	})
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := cons.Run(cctx); err != nil {
			logger.Error("detector", "err", err)
		}
	}()
	logger.Info("detecting", "rules", len(d.Rules.Rules), "group", group, "replay", replay)
	return func() {
		stop()
		cancel()
		<-done
		d.Stop()
	}, nil
}
