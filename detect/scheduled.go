package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// Query is one run of a scheduled rule's query for one tenant.
type Query struct {
	Rule string
	SQL  string
	// Params are bound to @name: the rule's params (with the tenant's
	// overrides), tenant, now and now_ms.
	Params        map[string]any
	Timeout       time.Duration
	MaxRowsToRead int64
	MaxRows       int
}

// QueryStats is what a query cost.
type QueryStats struct {
	Rows      int
	RowsRead  uint64
	BytesRead uint64
	Elapsed   time.Duration
	// Truncated: the query returned more than MaxRows rows; the rest were
	// not read.
	Truncated bool
}

// Querier runs scheduled rules' queries (ClickHouse).
type Querier interface {
	// Tenants lists the tenants the queries run for.
	Tenants(ctx context.Context) ([]string, error)
	// Query runs q and calls fn with each row, by column name.
	Query(ctx context.Context, q Query, fn func(row map[string]any) error) (QueryStats, error)
}

// Reports remembers when each key of a scheduled rule was last reported,
// so that a restart or a second instance does not report it again within
// the rule's period.
type Reports interface {
	// LastReported returns the keys of rule reported since, as
	// tenant + "\x00" + key.
	LastReported(ctx context.Context, rule string, since time.Time) (map[string]time.Time, error)
	// Reported records that keys of rule and tenant were reported at at.
	Reported(ctx context.Context, rule, tenant string, keys []string, at time.Time) error
}

// Scheduler runs the engine's scheduled rules: each every its interval,
// once per tenant, raising an alert through the engine's sink for each row
// its when holds for, at most once per key and period.
type Scheduler struct {
	eng     *Engine
	q       Querier
	reports Reports
	logger  *slog.Logger
	metrics *schedMetrics
	now     func() time.Time

	mu      sync.Mutex
	lastRun map[string]time.Time
	// reported: rule -> tenant\x00key -> when, loaded from Reports per rule
	// the first time it runs. Bounded by max_keys per rule.
	reported map[string]map[string]time.Time
	matcher  rules.Matcher
}

// NewScheduler returns a Scheduler of eng's scheduled rules. reports may
// be nil: reports are then remembered in memory only.
func NewScheduler(eng *Engine, q Querier, reports Reports, reg prometheus.Registerer, logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{eng: eng, q: q, reports: reports, logger: logger, metrics: newSchedMetrics(reg), now: eng.now,
		lastRun: map[string]time.Time{}, reported: map[string]map[string]time.Time{}}
}

// Run runs rules as they fall due until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		now := s.now()
		for _, r := range s.eng.scheduledRules() {
			s.mu.Lock()
			due := now.Sub(s.lastRun[r.ID]) >= r.Scheduled.Interval
			s.mu.Unlock()
			if due {
				if err := s.RunRule(ctx, r, now); err != nil && ctx.Err() == nil {
					s.logger.Error("scheduled rule", "rule", r.ID, "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunAll runs every scheduled rule once, as of now (a backtest gives past
// times).
func (s *Scheduler) RunAll(ctx context.Context, now time.Time) error {
	var errs []error
	for _, r := range s.eng.scheduledRules() {
		if err := s.RunRule(ctx, r, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RunRule runs one scheduled rule for every tenant, as of now.
func (s *Scheduler) RunRule(ctx context.Context, r *rules.Rule, now time.Time) error {
	s.mu.Lock()
	s.lastRun[r.ID] = now
	s.mu.Unlock()
	if err := s.loadReported(ctx, r, now); err != nil {
		return err
	}
	tenants, err := s.q.Tenants(ctx)
	if err != nil {
		s.metrics.errors.WithLabelValues(r.ID).Inc()
		return fmt.Errorf("rule %s: listing tenants: %w", r.ID, err)
	}
	var errs []error
	for _, tenant := range tenants {
		if err := s.runTenant(ctx, r, tenant, now); err != nil {
			s.metrics.errors.WithLabelValues(r.ID).Inc()
			errs = append(errs, fmt.Errorf("rule %s, tenant %s: %w", r.ID, tenant, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Scheduler) loadReported(ctx context.Context, r *rules.Rule, now time.Time) error {
	s.mu.Lock()
	_, ok := s.reported[r.ID]
	s.mu.Unlock()
	if ok {
		return nil
	}
	m := map[string]time.Time{}
	if s.reports != nil {
		var err error
		if m, err = s.reports.LastReported(ctx, r.ID, now.Add(-r.Scheduled.Period)); err != nil {
			return fmt.Errorf("rule %s: loading what it reported: %w", r.ID, err)
		}
	}
	s.mu.Lock()
	s.reported[r.ID] = m
	s.mu.Unlock()
	return nil
}

// ScheduledQuery is the query scheduled rule r runs for tenant as of now:
// its SQL, params (with the tenant's overrides, tenant, now and now_ms)
// and limits.
func (e *Engine) ScheduledQuery(r *rules.Rule, tenant string, now time.Time) Query {
	sc := r.Scheduled
	q := Query{Rule: r.ID, SQL: sc.Query, Params: e.paramsFor(r, tenant), Timeout: sc.Timeout, MaxRowsToRead: sc.MaxRowsToRead, MaxRows: sc.MaxRows}
	q.Params["tenant"], q.Params["now"], q.Params["now_ms"] = tenant, now.UTC().Truncate(time.Second), uint64(now.UnixMilli())
	return q
}

func (s *Scheduler) runTenant(ctx context.Context, r *rules.Rule, tenant string, now time.Time) error {
	sc := r.Scheduled
	params := s.eng.paramsFor(r, tenant)
	q := s.eng.ScheduledQuery(r, tenant, now)
	var alerts []Alert
	st, err := s.q.Query(ctx, q, func(row map[string]any) error {
		for k, v := range row {
			row[k] = rules.RowValue(v)
		}
		env := &rules.RowEnv{Row: row, Tenant: tenant, Now: now, Params: params}
		a, ok, err := rowAlert(&s.matcher, r, env, s.eng.cfg.MaxEventIDs)
		if err != nil {
			s.metrics.evalErrors.WithLabelValues(r.ID).Inc()
			s.logger.Warn("scheduled rule evaluation", "rule", r.ID, "tenant", tenant, "err", err)
			return nil
		}
		if ok {
			alerts = append(alerts, a)
		}
		return nil
	})
	s.metrics.runs.WithLabelValues(r.ID).Inc()
	s.metrics.duration.WithLabelValues(r.ID).Observe(st.Elapsed.Seconds())
	s.metrics.rowsRead.WithLabelValues(r.ID).Add(float64(st.RowsRead))
	if err != nil {
		return err
	}
	if st.Truncated {
		s.metrics.truncated.WithLabelValues(r.ID).Inc()
		s.logger.Warn("scheduled rule returned more rows than limits.max_rows; the rest were not evaluated", "rule", r.ID, "tenant", tenant, "max_rows", sc.MaxRows)
	}
	// Report each key once per period: record the reports, then raise.
	var raise []Alert
	var keys []string
	s.mu.Lock()
	for _, a := range alerts {
		last, seen := s.reported[r.ID][tenant+"\x00"+a.Key]
		if seen && now.Sub(last) < sc.Period && !now.Before(last) || slices.Contains(keys, a.Key) {
			continue
		}
		a.ID = alertID(r.ID, tenant, a.Key, now)
		raise, keys = append(raise, a), append(keys, a.Key)
	}
	s.mu.Unlock()
	if len(raise) == 0 {
		return nil
	}
	if s.reports != nil {
		if err := s.reports.Reported(ctx, r.ID, tenant, keys, now); err != nil {
			return fmt.Errorf("recording what was reported: %w", err)
		}
	}
	s.mu.Lock()
	m := s.reported[r.ID]
	for _, k := range keys {
		if len(m) >= s.eng.cfg.MaxKeys {
			// Bounded: forget one (Reports still has it, for the next start).
			for old := range m {
				delete(m, old)
				break
			}
		}
		m[tenant+"\x00"+k] = now
	}
	s.mu.Unlock()
	for _, a := range raise {
		a.Observed = s.eng.now()
		// A refused alert is held and handed over again; the engine
		// says so once, not per alert.
		_ = s.eng.raise(a)
	}
	return nil
}

// EvalRow evaluates scheduled rule r on one row as a run for tenant at now
// would: whether its when holds, and the key it would report.
func (e *Engine) EvalRow(r *rules.Rule, tenant string, row map[string]any, now time.Time) (key string, hit bool, err error) {
	var m rules.Matcher
	a, ok, err := rowAlert(&m, r, &rules.RowEnv{Row: row, Tenant: tenant, Now: now, Params: e.paramsFor(r, tenant)}, e.cfg.MaxEventIDs)
	return a.Key, ok, err
}

// ScheduledActor is the actor of a scheduled rule's alert whose row names
// none: the rule itself.
func ScheduledActor(rule string) string { return "scheduled rule " + rule }

// rowAlert evaluates a scheduled rule on one row: the alert it raises, if
// its when holds (ID and Observed left to the caller).
func rowAlert(m *rules.Matcher, r *rules.Rule, env *rules.RowEnv, maxIDs int) (Alert, bool, error) {
	hit, err := m.MatchRow(r, env)
	if err != nil || !hit {
		return Alert{}, false, err
	}
	var key string
	if r.Scheduled.Key != nil {
		v, err := m.EvalRow(r.Scheduled.Key, env)
		if err != nil {
			return Alert{}, false, fmt.Errorf("rule %s: key: %w", r.ID, err)
		}
		key = groupKey(v)
	} else if v, ok := env.Row["key"]; ok {
		key = groupKey(v)
	}
	if key == "" || key == "<nil>" {
		return Alert{}, false, fmt.Errorf("rule %s: the row has no key (a key column, or the rule's scheduled.key)", r.ID)
	}
	at := env.Now
	if t, ok := env.Row["time"].(time.Time); ok && !t.IsZero() {
		at = t
	}
	ev := &event.Event{Tenant: env.Tenant, Time: env.Now}
	if actor, ok := env.Row["actor"].(string); ok {
		ev.Actor.Name = actor
	}
	a := Alert{Rule: r.ID, Severity: r.Severity, Tenant: env.Tenant, Key: key, Status: StatusFiring, Final: true, Count: 1,
		First: at, Last: at, Tags: r.Tags, Actor: ev.Actor.Name, Description: r.Description, Runbook: r.Runbook}
	switch t := env.Row["targets"].(type) {
	case []string:
		a.Targets = t
	case string:
		a.Targets = []string{t}
	}
	if a.Actor == "" {
		a.Actor = ScheduledActor(r.ID)
	}
	if ids, ok := env.Row["events"].([]string); ok {
		a.Events = ids[:min(len(ids), maxIDs)]
	}
	d := rules.AlertData{Rule: r, Event: ev, Count: 1, Key: key, First: at, Last: at, Row: env.Row}
	if err := r.TitleText.Check(d); err != nil {
		return Alert{}, false, fmt.Errorf("rule %s: title: %w", r.ID, err)
	}
	if err := r.SummaryText.Check(d); err != nil {
		return Alert{}, false, fmt.Errorf("rule %s: summary: %w", r.ID, err)
	}
	a.Title, a.Summary = r.TitleText.Render(d), r.SummaryText.Render(d)
	return a, true, nil
}

// scheduledRules returns the scheduled rules of the current set.
func (e *Engine) scheduledRules() []*rules.Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.scheduled)
}

// paramsFor returns a scheduled rule's params with tenant's overrides.
func (e *Engine) paramsFor(r *rules.Rule, tenant string) map[string]any {
	p := maps.Clone(r.Scheduled.Params)
	if o, ok := e.cfg.Overrides[tenant][r.ID]; ok {
		for k, v := range o.Params {
			p[k] = v
		}
	}
	return p
}

// raise hands an alert made outside the event stream (a scheduled rule's)
// to the sink, after the engine's queued alerts.
func (e *Engine) raise(a Alert) error {
	e.mu.Lock()
	e.metrics.alerts.WithLabelValues(a.Rule).Inc()
	e.stats.Alerts++
	e.emit(&a)
	e.mu.Unlock()
	return e.deliver(false)
}

type schedMetrics struct {
	runs, errors, evalErrors, truncated *prometheus.CounterVec
	rowsRead                            *prometheus.CounterVec
	duration                            *prometheus.HistogramVec
}

func newSchedMetrics(reg prometheus.Registerer) *schedMetrics {
	f := promauto.With(reg)
	const ns, sub = "scimwatch", "scheduled"
	return &schedMetrics{
		runs:       f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "runs_total", Help: "Scheduled rule queries run (one per tenant), by rule."}, []string{"rule"}),
		errors:     f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total", Help: "Scheduled rule queries that failed (limits, ClickHouse errors), by rule."}, []string{"rule"}),
		evalErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "evaluation_errors_total", Help: "Rows on which a scheduled rule's when, key or texts failed, by rule."}, []string{"rule"}),
		truncated:  f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "truncated_total", Help: "Runs that returned more than limits.max_rows rows, by rule."}, []string{"rule"}),
		rowsRead:   f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rows_read_total", Help: "Rows ClickHouse read for scheduled rules, by rule."}, []string{"rule"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "query_duration_seconds", Help: "Time of one scheduled query, by rule.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 8)}, []string{"rule"}),
	}
}
