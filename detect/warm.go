package detect

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

// HistorySource reads stored events: ClickHouse, for the rules that learn
// from history.
type HistorySource interface {
	// Events calls fn with each event of [from, to) whose action is one of
	// actions (any when nil), once each, in time order.
	Events(ctx context.Context, from, to time.Time, actions []string, fn func(*event.Event) error) error
}

// WarmStats says what Warm did.
type WarmStats struct {
	Rules    []string
	From, To time.Time
	Events   int
	Elapsed  time.Duration
	// What the rules hold after it: new_term terms and keys, baseline
	// series (keys and tenants) and the hours they count.
	Terms, Keys, Series, Hours int
}

// Warm makes the rules that learn from history (new_term, baseline) and
// have not learned yet learn from src: the events of [until − their
// history, until). until is where the engine's own stream starts (the
// checkpoint it stopped at), so that what it learns from history and what
// it evaluates live do not overlap, and an event ingested while the
// engine was down is never learned before it is judged. While they warm,
// the rules learn from the live stream too but do not fire; they fire
// once warm. If it fails, their state is dropped: they learn from the
// stream alone until a later Warm succeeds.
func (e *Engine) Warm(ctx context.Context, src HistorySource, until time.Time) (WarmStats, error) {
	start := time.Now()
	e.mu.Lock()
	var warming []*ruleState
	var actions []string
	anyAction := false
	var span time.Duration
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range e.states {
			if !yield(id) {
				return
			}
		}
	}) {
		rs := e.states[id]
		if rs.learned == nil || rs.learned.warm {
			continue
		}
		rs.learned.warming = true
		warming = append(warming, rs)
		if rs.rule.Actions == nil {
			anyAction = true
		}
		actions = append(actions, rs.rule.Actions...)
		span = max(span, rs.rule.Learns().History)
	}
	e.mu.Unlock()
	st := WarmStats{From: until.Add(-span), To: until}
	for _, rs := range warming {
		st.Rules = append(st.Rules, rs.rule.ID)
	}
	if len(warming) == 0 {
		return st, nil
	}
	if anyAction {
		actions = nil
	} else {
		actions = slices.Compact(slices.Sorted(slices.Values(actions)))
	}
	err := src.Events(ctx, st.From, until, actions, func(ev *event.Event) error {
		st.Events++
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, rs := range warming {
			if !rs.learned.warming || ev.Time.Before(until.Add(-rs.rule.Learns().History)) {
				continue
			}
			if rs.rule.Actions != nil && !slices.Contains(rs.rule.Actions, ev.Action) {
				continue
			}
			if err := e.learnOrFire(rs, ev, false); err != nil {
				e.metrics.evalErrors.WithLabelValues(rs.rule.ID).Inc()
			}
		}
		return nil
	})
	st.Elapsed = time.Since(start)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, rs := range warming {
		if err != nil {
			// Half learned is worse than cold: cold rules wait for
			// min_history before they fire.
			rs.learned = e.newLearned(rs.rule)
			continue
		}
		rs.learned.warming, rs.learned.warm = false, true
		e.metrics.warm.WithLabelValues(rs.rule.ID).Set(1)
		e.sweepLearned(rs, until)
		if l := rs.learned; l.terms != nil {
			st.Terms += l.terms.len()
			st.Keys += l.keys.len()
		} else {
			st.Series += len(l.series)
			st.Hours += l.entries
		}
	}
	if err != nil {
		return st, fmt.Errorf("learning from history (%d events read): %w", st.Events, err)
	}
	return st, nil
}

// Learn feeds one event of history to the rules that learn (new_term,
// baseline): they learn from it and raise nothing. Events must come in
// time order, and before those Process gets (a backtest learns from the
// days before the ones it evaluates).
func (e *Engine) Learn(ev *event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, list := range [2][]*ruleState{e.ordered.byAction[ev.Action], e.ordered.anyAction} {
		for _, rs := range list {
			if rs.learned == nil {
				continue
			}
			if err := e.learnOrFire(rs, ev, false); err != nil {
				e.metrics.evalErrors.WithLabelValues(rs.rule.ID).Inc()
			}
		}
	}
}

// Progress is the time of the last event the ordered rules evaluated: a
// restart's Warm learns up to it (its checkpoint).
func (e *Engine) Progress() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock.released
}
