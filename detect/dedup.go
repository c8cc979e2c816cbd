package detect

import (
	"container/heap"
	"slices"
	"time"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// openAlert is an alert within its dedup period: events of its dedup key
// are counted into it until the period ends.
type openAlert struct {
	Alert
	until time.Time // end of the dedup period
	rs    *ruleState
	index int         // in the closing heap
	ev    event.Event // the event that opened it, without raw: the texts are rendered again, final, when it resolves
	extra *alertExtra
}

// alertExtra is what a history rule's texts say besides the event: the new
// term, or the baseline's figures.
type alertExtra struct {
	term  string
	stats *rules.Stats
}

// data is the template data of an alert of rule r opened by ev.
func (x *alertExtra) data(r *rules.Rule, ev *event.Event, count int, key string, first, last time.Time) rules.AlertData {
	d := rules.AlertData{Rule: r, Event: ev, Count: count, Key: key, First: first, Last: last}
	if x != nil {
		d.Term, d.Stats = x.term, x.stats
	}
	return d
}

// fireKey raises an alert for key, or counts it into the open alert of its
// dedup key. defaultPeriod is the dedup period when the rule sets none; x
// is what a history rule adds to the texts (nil: nothing).
func (e *Engine) fireKey(rs *ruleState, ev *event.Event, key string, count int, first time.Time, ids []string, defaultPeriod time.Duration, x *alertExtra) error {
	r := rs.rule
	dk, period := key, r.Dedup.Period
	if period == 0 {
		period = defaultPeriod
	}
	if r.Dedup.Key != nil {
		v, err := e.matcher.Eval(r.Dedup.Key, ev)
		if err != nil {
			return err
		}
		dk = groupKey(ev.Tenant, v)
	} else if r.Dedup.Period > 0 && r.Kind() == rules.KindSimple {
		dk = ev.Tenant // a simple rule with a period and no key: one alert per tenant
	}
	if a, ok := rs.open.get(dk); ok && e.merge(a, ev, count, ids...) {
		return nil
	}
	al := Alert{
		ID: alertID(r.ID, ev.Tenant, dk, first), Rule: r.ID, Severity: r.Severity, Tenant: ev.Tenant, Key: dk,
		Status: StatusFiring, Count: count, First: first, Last: ev.Time, Events: ids, Tags: r.Tags,
		Actor: who(&ev.Actor), Targets: targetNames(ev), Description: r.Description, Runbook: r.Runbook, Observed: e.now(),
	}
	d := x.data(r, ev, count, dk, first, ev.Time)
	al.Title, al.Summary = r.TitleText.Render(d), r.SummaryText.Render(d)
	e.metrics.alerts.WithLabelValues(r.ID).Inc()
	e.stats.Alerts++
	if period <= 0 {
		al.Final = true
		e.emit(&al)
		return nil
	}
	a := &openAlert{Alert: al, rs: rs, until: first.Add(period), ev: *ev, extra: x}
	// ev may be the engine's scratch event: keep copies of what it points to.
	a.ev.Raw, a.ev.Targets, a.ev.Changes = nil, slices.Clone(ev.Targets), slices.Clone(ev.Changes)
	if old, evicted := rs.open.put(dk, a); evicted {
		// Closed early, not lost.
		e.metrics.evictions.WithLabelValues(r.ID, "dedup").Inc()
		heap.Remove(&e.closing, old.index)
		e.resolve(old)
	}
	heap.Push(&e.closing, a)
	e.emit(&a.Alert)
	return nil
}

// merge counts an event into an open alert if it is within the alert's
// dedup period; it reports whether it did.
func (e *Engine) merge(a *openAlert, ev *event.Event, count int, ids ...string) bool {
	if !ev.Time.Before(a.until) {
		return false
	}
	a.Count += count
	if ev.Time.After(a.Last) {
		a.Last = ev.Time
	}
	for _, id := range ids {
		if len(a.Events) < e.cfg.MaxEventIDs {
			a.Events = append(a.Events, id)
		}
	}
	return true
}

// closeUntil resolves the open alerts whose dedup period ended by t (all
// of them when t is zero).
func (e *Engine) closeUntil(t time.Time) {
	for e.closing.Len() > 0 && (t.IsZero() || !e.closing[0].until.After(t)) {
		a := heap.Pop(&e.closing).(*openAlert)
		if cur, ok := a.rs.open.peek(a.Key); ok && cur == a {
			a.rs.open.remove(a.Key)
		}
		e.resolve(a)
	}
}

// resolve hands over an alert's final form: its texts say the final count
// and last time ("made 25 changes", not the 20 it opened at).
func (e *Engine) resolve(a *openAlert) {
	a.Status, a.Final = StatusResolved, true
	r := a.rs.rule
	d := a.extra.data(r, &a.ev, a.Count, a.Key, a.First, a.Last)
	a.Title, a.Summary = r.TitleText.Render(d), r.SummaryText.Render(d)
	a.Observed = e.now()
	e.emit(&a.Alert)
}

// closeHeap orders open alerts by the end of their dedup period.
type closeHeap []*openAlert

func (h closeHeap) Len() int           { return len(h) }
func (h closeHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h closeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *closeHeap) Push(x any) {
	a := x.(*openAlert)
	a.index = len(*h)
	*h = append(*h, a)
}
func (h *closeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}
