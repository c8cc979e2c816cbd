package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.yaml.in/yaml/v3"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/consume"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/kafka/embedded"
	"github.com/scimwatch/scimwatch/rules"
)

// runConfig is scimwatch run's config file: ingest's sections (kafka,
// clickhouse, batch, retry, http, shutdown_timeout), the detection
// config's (calendar, detect, history, alerting), the rules, which
// components run, and the detector's consumer.
type runConfig struct {
	ingest.Config `yaml:",inline"`
	Rules         []string        `yaml:"rules"`
	Calendar      *rules.Calendar `yaml:"calendar"`
	Detect        detect.Config   `yaml:"detect"`
	History       historyConfig   `yaml:"history"`
	Alerting      alertingConfig  `yaml:"alerting"`
	Components    struct {
		Ingest bool `yaml:"ingest"`
		Detect bool `yaml:"detect"`
	} `yaml:"components"`
	Detector struct {
		// Group is the detector's consumer group (default: kafka.group
		// with "-detect").
		Group string `yaml:"group"`
		// Replay is how far back a newly assigned partition is re-read
		// (default: the longest window, sequence or dedup period of the
		// rules, plus allowed_lateness).
		Replay      time.Duration `yaml:"replay"`
		CommitEvery time.Duration `yaml:"commit_every"`
	} `yaml:"detector"`

	// For the demo and benchmarks: each alert as the notifier takes it,
	// the registry the service's metrics go to, and, once detection is
	// ready (joined, alerting loaded, learned rules warm), a call.
	onAlert  func(detect.Alert)
	registry *prometheus.Registry
	onReady  func()
}

func defaultRunConfig() runConfig {
	d := defaultDetectionConfig()
	cal := rules.DefaultCalendar()
	c := runConfig{Config: ingest.DefaultConfig(), Calendar: &cal, Detect: d.Detect, History: d.History, Alerting: d.Alerting}
	c.Components.Ingest, c.Components.Detect = true, true
	c.Detector.CommitEvery = time.Second
	return c
}

// detection returns the detection config the shared helpers take.
func (c *runConfig) detection() detectionConfig {
	return detectionConfig{Calendar: c.Calendar, Detect: c.Detect, History: c.History, Alerting: c.Alerting, ClickHouse: c.ClickHouse}
}

// loadRunConfig decodes and validates a run config, every problem at once.
func loadRunConfig(path string) (runConfig, error) {
	cfg := defaultRunConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		for _, e := range te.Errors {
			errs = append(errs, errors.New(goType.ReplaceAllString(e, "")))
		}
	}
	if err := cfg.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	dc := cfg.detection()
	errs = append(errs, dc.validate()...)
	if !cfg.Components.Ingest && !cfg.Components.Detect {
		errs = append(errs, errors.New("components: ingest and detect are both off: nothing to run"))
	}
	if cfg.Components.Detect && len(cfg.Rules) == 0 {
		errs = append(errs, errors.New("rules: at least one rules directory is required to detect (rules/builtin holds the built-in rules)"))
	}
	if cfg.Detector.Replay < 0 || cfg.Detector.CommitEvery <= 0 {
		errs = append(errs, errors.New("detector: replay must not be negative, commit_every must be positive"))
	}
	if cfg.Detector.Group != "" && cfg.Detector.Group == cfg.Kafka.Group {
		errs = append(errs, errors.New("detector.group: must differ from kafka.group (the detector reads every record again, on its own)"))
	}
	if len(errs) > 0 {
		return cfg, fmt.Errorf("%s: %w", path, errors.Join(errs...))
	}
	return cfg, nil
}

func runCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "run",
		about: `Runs the whole job as one service until SIGINT or SIGTERM: ingest (Kafka to
ClickHouse), streaming detection on the same topics under a consumer group of
its own (alerts never wait for ClickHouse), the rules that learn from history
and the scheduled ones, alerting to Slack and Alertmanager, and /metrics,
/healthz and /readyz (ready when every enabled component is). SIGHUP or a
changed rules file reloads the rules. Shutdown lands the batch in flight and
the notifications due within shutdown_timeout. The config file is described in
README.md, "scimwatch run".`,
		example: `scimwatch run --config scimwatch.yaml`})
	config := fs.String("config", "", "YAML config `FILE` (required)")
	level := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	poll := fs.Duration("watch", 2*time.Second, "how often to look for changed rules files")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stderr := c.stderr
	if *config == "" {
		return fs.fail("--config is required")
	}
	if fs.NArg() > 0 {
		return fs.fail("takes no arguments")
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return fs.fail("%v", err)
	}
	cfg, err := loadRunConfig(*config)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch run:", err)
		return 1
	}
	if err := runReloading(ctx, *config, cfg, *poll, logger); err != nil {
		fmt.Fprintln(stderr, "scimwatch run:", err)
		return 1
	}
	return 0
}

// runReloading runs the service; on SIGHUP it reads the config again and,
// when it changed and is valid, stops the components gracefully and starts
// them with it (the detector re-reads its window, as after a restart). A
// config that does not load is reported and the running one kept. Rules
// reload without a restart (the reloader takes SIGHUP too).
func runReloading(ctx context.Context, path string, cfg runConfig, poll time.Duration, logger *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	current, _ := os.ReadFile(path)
	for {
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- runService(sctx, cfg, poll, logger) }()
		restart := false
		for !restart {
			select {
			case err := <-done:
				cancel()
				return err
			case <-hup:
				b, err := os.ReadFile(path)
				if err != nil || bytes.Equal(b, current) {
					continue // unchanged: the rules reload by themselves
				}
				next, err := loadRunConfig(path)
				if err != nil {
					logger.Error("config not reloaded: it does not load; the running one stays", "err", err)
					continue
				}
				logger.Info("config changed: restarting the components with it", "config", path)
				cancel()
				if err := <-done; err != nil {
					return err
				}
				cfg, current, restart = next, b, true
			}
		}
	}
}

// runService runs the enabled components until ctx ends.
func runService(ctx context.Context, cfg runConfig, poll time.Duration, logger *slog.Logger) error {
	reg := cfg.registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if len(cfg.Kafka.Brokers) == 0 {
		ek, err := embedded.Start()
		if err != nil {
			return err
		}
		defer ek.Close()
		cfg.Kafka.Brokers = ek.Brokers()
		logger.Warn("no kafka.brokers configured: using an embedded in-memory broker", "brokers", cfg.Kafka.Brokers)
	}
	var readiness []func(context.Context) error
	var wg sync.WaitGroup
	defer wg.Wait()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if cfg.Components.Detect {
		stop, ready, err := startDetection(cctx, cfg, poll, reg, logger, &wg)
		if err != nil {
			return err
		}
		defer stop()
		readiness = append(readiness, ready)
		if cfg.onReady != nil {
			go func() {
				for cctx.Err() == nil && ready(cctx) != nil {
					time.Sleep(100 * time.Millisecond)
				}
				if cctx.Err() == nil {
					cfg.onReady()
				}
			}()
		}
	}
	if !cfg.Components.Ingest {
		return serveOnly(cctx, cfg.HTTP.Listen, reg, readiness, logger)
	}
	svc := &ingest.Service{Config: cfg.Config, Registry: reg, Logger: logger.With("component", "ingest"), Readiness: readiness}
	return svc.Run(cctx)
}

// startDetection starts alerting, the engine, history, the rules reloader
// and the detector's consumer. stop stops them in order: the consumer and
// the engine first, then the notifications due are delivered.
func startDetection(ctx context.Context, cfg runConfig, poll time.Duration, reg *prometheus.Registry, logger *slog.Logger,
	wg *sync.WaitGroup) (stop func(), ready func(context.Context) error, err error) {
	dc := cfg.detection()
	opts := rules.Options{Calendar: cfg.Calendar}
	set, err := loadRules(opts, cfg.Rules)
	if err != nil {
		return nil, nil, err
	}
	nf, err := startNotifying(ctx, &dc, reg, logger)
	if err != nil {
		return nil, nil, err
	}
	alertLog := detect.SinkFunc(func(a detect.Alert) error {
		logger.Info("alert", "id", a.ID, "rule", a.Rule, "severity", a.Severity, "tenant", a.Tenant, "status", a.Status, "count", a.Count, "title", a.Title)
		if cfg.onAlert != nil {
			cfg.onAlert(a)
		}
		return nil
	})
	eng, err := detect.New(cfg.Detect, set, nf.sink(alertLog), reg, logger.With("component", "detect"))
	if err != nil {
		nf.stop(0)
		return nil, nil, err
	}
	hist := startHistory(ctx, &dc, set, eng, reg, logger)
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
		replay = replaySpan(set, cfg.Detect)
	}
	cons, err := consume.New(consume.Config{Client: cfg.Kafka.Client, Group: group, Topics: topics, Replay: replay,
		StartLatest: cfg.Kafka.StartOffset == "latest", CommitEvery: cfg.Detector.CommitEvery, MaxRecordBytes: cfg.Kafka.MaxRecordBytes,
		Limits: cfg.Limits},
		eng, reg, logger.With("component", "detector"))
	if err != nil {
		hist.stop()
		nf.stop(0)
		return nil, nil, err
	}
	dctx, dcancel := context.WithCancel(context.WithoutCancel(ctx))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	rl := detect.NewReloader(cfg.Rules, opts, eng, poll, reg, logger)
	rl.Loaded = hist.reloaded
	var dwg sync.WaitGroup
	dwg.Add(3)
	go func() { defer dwg.Done(); rl.Run(dctx, hup) }()
	go func() {
		defer dwg.Done()
		if err := cons.Run(dctx); err != nil {
			logger.Error("detector", "err", err)
		}
	}()
	go func() {
		// A quiet stream: event time moves on with the wall clock.
		defer dwg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-dctx.Done():
				return
			case <-t.C:
				_ = eng.Tick() // a refusing sink: the engine holds, retries and says so
			}
		}
	}()
	// The consumer and the ticker stop with ctx; the rest in stop.
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		dcancel()
	}()
	logger.Info("detecting", "rules", len(set.Rules), "group", group, "replay", replay)
	stop = func() {
		dcancel()
		dwg.Wait()
		signal.Stop(hup)
		hist.stop()
		nf.stop(cfg.ShutdownTimeout)
	}
	ready = func(context.Context) error {
		var errs []error
		if !cons.Joined() {
			errs = append(errs, errors.New("detector: not in its consumer group yet"))
		}
		if nf != nil && !nf.n.Ready() {
			errs = append(errs, errors.New("alerting: loading its state"))
		}
		errs = append(errs, hist.ready(), eng.DeliveryError())
		return errors.Join(errs...)
	}
	return stop, ready, nil
}

// replaySpan is how far back a partition is re-read when assigned: the
// longest window, sequence or dedup period of the rules, plus the allowed
// lateness, so that what was open is open again.
func replaySpan(set *rules.Set, dc detect.Config) time.Duration {
	var span time.Duration
	for _, r := range set.Rules {
		if r.Threshold != nil {
			span = max(span, r.Threshold.Window)
		}
		if r.Sequence != nil {
			span = max(span, r.Sequence.Within)
		}
		span = max(span, r.Dedup.Period)
	}
	return span + dc.AllowedLateness
}

// serveOnly serves /metrics, /healthz and /readyz when ingest (which
// serves them otherwise) is off, until ctx ends.
func serveOnly(ctx context.Context, listen string, reg *prometheus.Registry, readiness []func(context.Context) error, logger *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var errs []error
		for _, check := range readiness {
			errs = append(errs, check(r.Context()))
		}
		if err := errors.Join(errs...); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.Info("serving metrics and health", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
