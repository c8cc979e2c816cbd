package detect

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// BacktestStats says what Backtest did.
type BacktestStats struct {
	// LearnFrom is where the history learned from began.
	LearnFrom time.Time
	// Learned and Evaluated count events; Runs counts scheduled rule runs.
	Learned, Evaluated, Runs int
}

// Backtest runs the engine's rules over the stored history of [from, to)
// as if live. The rules that learn (new_term, baseline) first learn from
// the history before from (as far back as their history reaches), then
// only from what precedes each moment; scheduled rules run every interval
// from from, as of that time (reports remembered in memory only); the
// other rules see the events in time order. keep, when set, chooses the
// events (a tenant's). Alerts go to the engine's sink; Backtest flushes
// the engine at the end.
func Backtest(ctx context.Context, eng *Engine, src HistorySource, q Querier, from, to time.Time, keep func(*event.Event) bool) (BacktestStats, error) {
	var st BacktestStats
	set := eng.Rules()
	var span time.Duration
	var learnActs, liveActs []string
	learnAny, liveAny, live := false, false, false
	var scheduled []*rules.Rule
	for _, r := range set.Rules {
		if r.Scheduled != nil {
			scheduled = append(scheduled, r)
			continue
		}
		if lg := r.Learns(); lg != nil {
			span = max(span, lg.History)
			learnAny = learnAny || r.Actions == nil
			learnActs = append(learnActs, r.Actions...)
		}
		live = true
		liveAny = liveAny || r.Actions == nil
		liveActs = append(liveActs, r.Actions...)
	}
	actions := func(any bool, a []string) []string {
		if any {
			return nil
		}
		return slices.Compact(slices.Sorted(slices.Values(a)))
	}
	if keep == nil {
		keep = func(*event.Event) bool { return true }
	}
	st.LearnFrom = from.Add(-span)
	if span > 0 {
		err := src.Events(ctx, st.LearnFrom, from, actions(learnAny, learnActs), func(ev *event.Event) error {
			if keep(ev) {
				st.Learned++
				eng.Learn(ev)
			}
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("learning from the history of %s to %s: %w", st.LearnFrom.Format(time.RFC3339), from.Format(time.RFC3339), err)
		}
	}
	if len(scheduled) > 0 && q == nil {
		return st, fmt.Errorf("scheduled rules need a Querier")
	}
	sched := NewScheduler(eng, q, nil, prometheus.NewRegistry(), nil)
	next := make([]time.Time, len(scheduled))
	for i := range next {
		next[i] = from
	}
	runDue := func(until time.Time) error {
		for i, r := range scheduled {
			for !next[i].After(until) && next[i].Before(to) {
				if err := sched.RunRule(ctx, r, next[i]); err != nil {
					return err
				}
				st.Runs++
				next[i] = next[i].Add(r.Scheduled.Interval)
			}
		}
		return nil
	}
	if live {
		err := src.Events(ctx, from, to, actions(liveAny, liveActs), func(ev *event.Event) error {
			if !keep(ev) {
				return nil
			}
			if err := runDue(ev.Time); err != nil {
				return err
			}
			st.Evaluated++
			return eng.Process(ev)
		})
		if err != nil {
			return st, err
		}
	}
	if err := runDue(to); err != nil {
		return st, err
	}
	return st, eng.Flush()
}

// Rules returns the rule set the engine runs.
func (e *Engine) Rules() *rules.Set {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.set
}
