package detect

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// Engine evaluates a rule set on events. Process and Flush are safe to call
// from several goroutines but serialize; SetRules swaps the rule set.
type Engine struct {
	cfg     Config
	sink    Sink
	logger  *slog.Logger
	metrics *metrics

	mu        sync.Mutex
	set       *rules.Set
	byAction  map[string][]*ruleState
	anyAction []*ruleState
	states    map[string]*ruleState // by rule id, kept across reloads
	matcher   rules.Matcher

	pending   eventQueue  // held for lateness
	scratch   event.Event // the event being evaluated, popped from pending
	watermark time.Time   // newest event time seen
	released  time.Time   // time of the last event evaluated
	closing   closeHeap   // open alerts by close time
	swept     time.Time   // event time of the last sweep of idle state
}

// New returns an Engine evaluating set and handing alerts to sink. Metrics
// are registered on reg.
func New(cfg Config, set *rules.Set, sink Sink, reg prometheus.Registerer, logger *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, sink: sink, logger: logger, metrics: newMetrics(reg), states: map[string]*ruleState{}}
	e.setRules(set)
	return e, nil
}

// SetRules replaces the rule set. State (windows, sequences, open alerts)
// of rules whose id is still there is kept.
func (e *Engine) SetRules(set *rules.Set) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setRules(set)
}

func (e *Engine) setRules(set *rules.Set) {
	e.set = set
	e.byAction = map[string][]*ruleState{}
	e.anyAction = nil
	keep := map[string]*ruleState{}
	for _, r := range set.Rules {
		rs := e.states[r.ID]
		if rs == nil {
			rs = newRuleState(r)
		}
		rs.rule = r
		keep[r.ID] = rs
		if r.Actions == nil {
			e.anyAction = append(e.anyAction, rs)
			continue
		}
		for _, a := range r.Actions {
			e.byAction[a] = append(e.byAction[a], rs)
		}
	}
	e.states = keep
	e.metrics.rules.Set(float64(len(set.Rules)))
}

// Process takes one event. It is evaluated once AllowedLateness of newer
// events has been seen, in event-time order.
func (e *Engine) Process(ev *event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metrics.events.Inc()
	if ev.Time.Before(e.released) {
		// Later than allowed: evaluated now, out of order.
		e.metrics.late.Inc()
		e.evaluate(ev)
		return
	}
	e.pending.push(ev)
	if ev.Time.After(e.watermark) {
		e.watermark = ev.Time
	}
	for e.pending.len() > 0 && !e.pending.first().Time.After(e.watermark.Add(-e.cfg.AllowedLateness)) {
		e.evaluate(e.pending.pop(&e.scratch))
	}
}

// Flush evaluates every held event and closes every open alert: the end of
// a replay, or shutdown.
func (e *Engine) Flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.pending.len() > 0 {
		e.evaluate(e.pending.pop(&e.scratch))
	}
	e.closeUntil(time.Time{})
}

// evaluate runs the candidate rules of one event.
func (e *Engine) evaluate(ev *event.Event) {
	if ev.Time.After(e.released) {
		e.released = ev.Time
		e.closeUntil(e.released)
		if e.released.Sub(e.swept) > time.Minute {
			e.sweep(e.released)
			e.swept = e.released
		}
	}
	for _, list := range [2][]*ruleState{e.byAction[ev.Action], e.anyAction} {
		for _, rs := range list {
			if err := e.evalRule(rs, ev); err != nil {
				e.metrics.evalErrors.WithLabelValues(rs.rule.ID).Inc()
				e.logger.Warn("rule evaluation", "rule", rs.rule.ID, "event", ev.ID, "err", err)
			}
		}
	}
}

func (e *Engine) evalRule(rs *ruleState, ev *event.Event) error {
	r := rs.rule
	if r.Sequence != nil {
		return e.sequence(rs, ev)
	}
	hit, err := e.matcher.Match(r, ev)
	if err != nil || !hit {
		return err
	}
	if r.Threshold != nil {
		return e.threshold(rs, ev)
	}
	e.fireKey(rs, ev, ev.ID, 1, ev.Time, []string{ev.ID}, 0)
	return nil
}

// groupKey renders expression results as a group key, "a|b".
func groupKey(parts ...any) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('|')
		}
		switch v := p.(type) {
		case string:
			b.WriteString(v)
		case int:
			b.WriteString(strconv.Itoa(v))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		default:
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// evalAll runs expressions on ev; fields[i], when set, reads expression i
// directly.
func (e *Engine) evalAll(ev *event.Event, progs []*vmProgram, fields []func(*event.Event) string) ([]any, error) {
	out := make([]any, len(progs))
	for i, p := range progs {
		if i < len(fields) && fields[i] != nil {
			out[i] = fields[i](ev)
			continue
		}
		v, err := e.matcher.Eval(p, ev)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
