package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/rules"
)

// DetectionOptions say how a command runs the detection chain.
type DetectionOptions struct {
	// Rules are rule directories or files.
	Rules []string
	// Out receives each alert the engine hands over, once alerting (when
	// on) has taken it.
	Out detect.Sink
	// Notify delivers alerts through the alerting: integrations; it needs
	// one configured.
	Notify bool
	// Live is a detector that runs on: rules that learn warm from history
	// and scheduled rules run (history:), rules reload on SIGHUP or when a
	// file changes (every Watch), and on a quiet stream event time moves
	// on with the wall clock. Off: a replay of files.
	Live  bool
	Watch time.Duration
	// Grace is how long Stop waits for the notifications due.
	Grace time.Duration
}

// Detection is the chain every detecting command runs (run, detect,
// replay): the rules, alerting, the engine, history, the reloader and the
// clock, built in that order and stopped in the reverse.
type Detection struct {
	// Engine is what events are handed to.
	Engine *detect.Engine
	// Rules is the rule set loaded at start.
	Rules *rules.Set

	nf     *notifying
	hist   *historyRun
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hup    chan os.Signal
	grace  time.Duration
	logger *slog.Logger
}

// NewDetection loads the rules and starts the chain. srv, when not nil,
// gets alerting's endpoint and the chain's readiness.
func NewDetection(ctx context.Context, cfg *Config, opts DetectionOptions, srv *Server, reg prometheus.Registerer, logger *slog.Logger) (*Detection, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ropts := rules.Options{Calendar: cfg.Calendar}
	set, err := LoadRules(ropts, opts.Rules)
	if err != nil {
		return nil, err
	}
	if opts.Notify && !cfg.Alerting.Enabled() {
		return nil, errors.New("alerting: no integration configured (an alerting: section naming slack or alertmanager)")
	}
	d := &Detection{Rules: set, grace: opts.Grace, logger: logger}
	if opts.Notify {
		if d.nf, err = startNotifying(ctx, cfg, srv, reg, logger); err != nil {
			return nil, err
		}
	}
	out := opts.Out
	if out == nil {
		out = detect.SinkFunc(func(detect.Alert) error { return nil })
	}
	if d.Engine, err = detect.New(cfg.Detect, set, d.nf.sink(out), reg, logger.With("component", "detect")); err != nil {
		d.nf.stop(0)
		return nil, err
	}
	if srv != nil {
		srv.Ready("detect", d.Ready)
	}
	if !opts.Live {
		return d, nil
	}
	// Rules that learn warm from ClickHouse, scheduled rules run there.
	d.hist = startHistory(ctx, cfg, set, d.Engine, reg, logger)
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.hup = make(chan os.Signal, 1)
	signal.Notify(d.hup, syscall.SIGHUP)
	rl := detect.NewReloader(opts.Rules, ropts, d.Engine, opts.Watch, reg, logger)
	rl.Loaded = d.hist.reloaded
	d.wg.Add(2)
	go func() { defer d.wg.Done(); rl.Run(dctx, d.hup) }()
	go func() {
		// A quiet stream: event time moves on with the wall clock.
		defer d.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-dctx.Done():
				return
			case <-t.C:
				_ = d.Engine.Tick() // a refusing sink: the engine holds, retries and says so
			}
		}
	}()
	return d, nil
}

// Ready reports whether the rules that learn have warmed and the engine's
// alerts are being taken (alerting registers its own readiness).
func (d *Detection) Ready(context.Context) error {
	return errors.Join(d.hist.ready(), d.Engine.DeliveryError())
}

// Stop stops the reloader and the clock, saves history's checkpoint, and
// waits up to the grace for the notifications due. Whoever feeds the
// engine stops first.
func (d *Detection) Stop() {
	if d.cancel != nil {
		d.cancel()
		d.wg.Wait()
		signal.Stop(d.hup)
	}
	d.hist.stop()
	d.nf.stop(d.grace)
}

// Flush resolves what is open at the end of the input, handing over what
// alerting refused until it takes it (a minute at most).
func (d *Detection) Flush(ctx context.Context) error {
	deadline := time.After(time.Minute)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		err := d.Engine.Flush()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-deadline:
			return err
		case <-t.C:
		}
	}
}

// LoadRules loads rule directories or files, naming the path in what goes
// wrong: a path that is not there, or no rule at all.
func LoadRules(opts rules.Options, paths []string) (*rules.Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("rules: none named (rules/builtin holds the built-in rules)")
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("rules %s: %w", p, errors.Unwrap(err))
		}
	}
	set, err := rules.Load(opts, paths...)
	if err != nil {
		return nil, err
	}
	if len(set.Rules) == 0 {
		return nil, fmt.Errorf("rules %s: no rules found (rules are *.yaml or *.yml files with a rules: list)", strings.Join(paths, " "))
	}
	return set, nil
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
