package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// HistoryConfig is the history: section: where
// the rules that learn (new_term, baseline) warm from, where scheduled
// rules run, and this detector's checkpoint.
type HistoryConfig struct {
	// Store is clickhouse (the clickhouse: section) or none: rules that
	// learn then start cold and learn from the stream alone (they fire
	// after min_history of it), and scheduled rules do not run.
	Store string `yaml:"store"`
	// Checkpoint names where this detector's stream had got to, kept in
	// ClickHouse: a restart learns from the history up to there. Two
	// detectors on different streams need different names.
	Checkpoint string `yaml:"checkpoint"`
	// CheckpointEvery is how often it is saved.
	CheckpointEvery time.Duration `yaml:"checkpoint_every"`
	// WarmTimeout bounds one warm from history.
	WarmTimeout time.Duration `yaml:"warm_timeout"`
}

// DefaultHistoryConfig is history: when the file says nothing.
func DefaultHistoryConfig() HistoryConfig {
	return HistoryConfig{Store: "clickhouse", Checkpoint: "default", CheckpointEvery: 10 * time.Second, WarmTimeout: 10 * time.Minute}
}

func (c *HistoryConfig) validate(ch *clickhouse.Config, checkCH bool) []error {
	var errs []error
	switch c.Store {
	case "none":
	case "clickhouse":
		if !checkCH {
			break
		}
		if err := ch.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("clickhouse (history.store): %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("history.store: %q is not clickhouse or none", c.Store))
	}
	if c.Checkpoint == "" {
		errs = append(errs, errors.New("history.checkpoint: required (a name for this detector's progress)"))
	}
	if c.CheckpointEvery <= 0 || c.WarmTimeout <= 0 {
		errs = append(errs, errors.New("history.checkpoint_every and history.warm_timeout must be positive"))
	}
	return errs
}

// needsHistory reports whether set has rules that learn or are scheduled.
func needsHistory(set *rules.Set) bool {
	for _, r := range set.Rules {
		if r.Learns() != nil || r.Scheduled != nil {
			return true
		}
	}
	return false
}

// historyRun is detection's use of ClickHouse while detect runs: warming
// the rules that learn, running the scheduled ones, saving the checkpoint.
// It connects in the background and retries, so that detection of the
// other rules never waits for ClickHouse.
type historyRun struct {
	cfg     HistoryConfig
	chCfg   clickhouse.Config
	eng     *detect.Engine
	reg     prometheus.Registerer
	logger  *slog.Logger
	started time.Time

	mu    sync.Mutex
	store *clickhouse.Store
	src   *eventstore.Store
	saved time.Time // the progress last saved

	rewarm chan struct{}
	// warmed: the first warm from history is over (or failed: the rules
	// then learn from the stream).
	warmed atomic.Bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startHistory starts it, or returns nil when the config or the rules need
// none.
func startHistory(ctx context.Context, cfg *Config, set *rules.Set, eng *detect.Engine, reg prometheus.Registerer, logger *slog.Logger) *historyRun {
	if !needsHistory(set) {
		return nil
	}
	if cfg.History.Store == "none" {
		logger.Warn("history.store is none: rules that learn start cold and learn from the stream alone; scheduled rules do not run")
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &historyRun{cfg: cfg.History, chCfg: cfg.ClickHouse, eng: eng, reg: reg, logger: logger.With("component", "history"),
		started: time.Now(), rewarm: make(chan struct{}, 1), cancel: cancel}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.run(ctx)
	}()
	return h
}

// ready reports whether the rules that learn have warmed (nil h: nothing
// to warm).
func (h *historyRun) ready() error {
	if h != nil && !h.warmed.Load() {
		return errors.New("history: the rules that learn are warming from ClickHouse")
	}
	return nil
}

// stop saves the checkpoint and stops.
func (h *historyRun) stop() {
	if h == nil {
		return
	}
	h.cancel()
	h.wg.Wait()
	h.saveCheckpoint(context.Background())
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.store != nil {
		h.store.Close()
	}
}

// reloaded is the reloader's hook: rules new to the engine warm.
func (h *historyRun) reloaded() {
	if h == nil {
		return
	}
	select {
	case h.rewarm <- struct{}{}:
	default:
	}
}

func (h *historyRun) run(ctx context.Context) {
	store, src, err := h.connect(ctx)
	if err != nil {
		return // ctx ended
	}
	until := h.started
	if t, ok, err := src.Checkpoint(ctx, h.cfg.Checkpoint); err != nil {
		h.logger.Error("reading the checkpoint; learning up to now", "err", err)
	} else if ok && t.Before(until) {
		until = t
	}
	h.warm(ctx, src, until)
	h.warmed.Store(true)
	h.mu.Lock()
	h.store, h.src = store, src
	h.mu.Unlock()
	sched := detect.NewScheduler(h.eng, src, src, h.reg, h.logger)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		sched.Run(ctx)
	}()
	t := time.NewTicker(h.cfg.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.saveCheckpoint(ctx)
		case <-h.rewarm:
			h.warm(ctx, src, time.Now())
		}
	}
}

// connect opens and migrates ClickHouse, retrying with backoff until it
// answers or ctx ends.
func (h *historyRun) connect(ctx context.Context) (*clickhouse.Store, *eventstore.Store, error) {
	wait := time.Second
	for {
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		store, err := openMigrated(mctx, h.chCfg, h.logger)
		cancel()
		if err == nil {
			return store, eventstore.New(store), nil
		}
		h.logger.Error("ClickHouse for history is not reachable; rules that learn learn from the stream meanwhile, scheduled rules wait", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

func (h *historyRun) warm(ctx context.Context, src detect.HistorySource, until time.Time) {
	wctx, cancel := context.WithTimeout(ctx, h.cfg.WarmTimeout)
	defer cancel()
	st, err := h.eng.Warm(wctx, src, until)
	if len(st.Rules) == 0 {
		return
	}
	if err != nil {
		h.logger.Error("warming rules from history failed; they learn from the stream alone", "rules", st.Rules, "err", err)
		return
	}
	h.logger.Info("rules warmed from history", "rules", st.Rules, "from", st.From, "until", st.To, "events", st.Events, "elapsed", st.Elapsed)
}

func (h *historyRun) saveCheckpoint(ctx context.Context) {
	h.mu.Lock()
	src, saved := h.src, h.saved
	h.mu.Unlock()
	p := h.eng.Progress()
	if src == nil || p.IsZero() || p.Equal(saved) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := src.SaveCheckpoint(cctx, h.cfg.Checkpoint, p); err != nil {
		h.logger.Warn("saving the checkpoint", "err", err)
		return
	}
	h.mu.Lock()
	h.saved = p
	h.mu.Unlock()
}
