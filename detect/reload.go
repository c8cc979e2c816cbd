package detect

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scimwatch/scimwatch/rules"
)

// Reloader reloads an Engine's rules when a signal arrives (SIGHUP, sent on
// Trigger) or when a file of the rule directories changes. A rule set that
// does not load is logged and counted, and the last good one keeps running.
type Reloader struct {
	paths    []string
	opts     rules.Options
	engine   *Engine
	interval time.Duration
	logger   *slog.Logger

	failures prometheus.Counter
	success  prometheus.Gauge
	loaded   prometheus.Gauge

	fingerprint string

	// Loaded, when set, is called after a rule set is swapped in: a rule
	// new to the engine that learns from history is warmed there.
	Loaded func()
}

// NewReloader watches paths (polling every interval) for engine.
func NewReloader(paths []string, opts rules.Options, engine *Engine, interval time.Duration, reg prometheus.Registerer, logger *slog.Logger) *Reloader {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(reg)
	r := &Reloader{paths: paths, opts: opts, engine: engine, interval: interval, logger: logger,
		failures: f.NewCounter(prometheus.CounterOpts{Namespace: "scimwatch", Subsystem: "rules", Name: "reload_failures_total",
			Help: "Rule reloads that failed; the last good rule set kept running."}),
		success: f.NewGauge(prometheus.GaugeOpts{Namespace: "scimwatch", Subsystem: "rules", Name: "last_reload_successful",
			Help: "1 when the last reload of the rules succeeded, 0 when it failed."}),
		loaded: f.NewGauge(prometheus.GaugeOpts{Namespace: "scimwatch", Subsystem: "rules", Name: "last_reload_success_timestamp_seconds",
			Help: "When the rules were last loaded successfully."}),
	}
	r.fingerprint = r.scan()
	r.success.Set(1)
	return r
}

// Run reloads on trigger and on change until ctx ends.
func (r *Reloader) Run(ctx context.Context, trigger <-chan os.Signal) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-trigger:
			r.logger.Info("reloading rules on signal")
			_ = r.Reload()
		case <-t.C:
			if r.Changed() {
				r.logger.Info("reloading rules: a rules file changed")
				_ = r.Reload()
			}
		}
	}
}

// Changed reports whether a rules file was added, removed or modified since
// the last check.
func (r *Reloader) Changed() bool {
	fp := r.scan()
	if fp == r.fingerprint {
		return false
	}
	r.fingerprint = fp
	return true
}

// Reload loads the rules and swaps them in, or keeps the running ones.
func (r *Reloader) Reload() error {
	set, err := rules.Load(r.opts, r.paths...)
	if err != nil {
		r.failures.Inc()
		r.success.Set(0)
		r.logger.Error("rules did not load; keeping the last good rule set", "err", err)
		return err
	}
	if err := r.engine.SetRules(set); err != nil {
		r.failures.Inc()
		r.success.Set(0)
		r.logger.Error("rules do not fit the detection config; keeping the last good rule set", "err", err)
		return err
	}
	r.success.Set(1)
	r.loaded.SetToCurrentTime()
	r.logger.Info("rules reloaded", "rules", len(set.Rules))
	if r.Loaded != nil {
		r.Loaded()
	}
	return nil
}

// scan fingerprints the rule files (and list files beside them): names,
// sizes and modification times.
func (r *Reloader) scan() string {
	var parts []string
	for _, p := range r.paths {
		files := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*"))
		}
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && !st.IsDir() {
				parts = append(parts, fmt.Sprintf("%s:%d:%d", f, st.Size(), st.ModTime().UnixNano()))
			}
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "\n")
}
