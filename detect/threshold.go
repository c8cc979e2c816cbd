package detect

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/scimwatch/scimwatch/event"
)

// window is the sliding window of one threshold group. It fires at count,
// and is dropped then, so it holds fewer than count entries: with distinct,
// one per distinct value (the latest event of each), however often a value
// repeats.
type window struct {
	entries  []entry                       // counting events: in time order
	distinct *simplelru.LRU[string, entry] // counting distinct values: value -> its latest event
	touched  time.Time                     // newest event time
}

type entry struct {
	at time.Time
	id string
}

// limits returns rule's count and window for tenant.
func (e *Engine) limits(rs *ruleState, tenant string) (int, time.Duration) {
	th := rs.rule.Threshold
	count, span := th.Count, th.Window
	if o, ok := e.cfg.Overrides[tenant][rs.rule.ID]; ok {
		if o.Count > 0 {
			count = o.Count
		}
		if o.Window > 0 {
			span = o.Window
		}
	}
	return count, span
}

func (e *Engine) threshold(rs *ruleState, ev *event.Event) error {
	th := rs.rule.Threshold
	parts, err := e.evalAll(ev, th.GroupBy, th.GroupFields)
	if err != nil {
		return err
	}
	key := groupKey(parts...)
	// A burst that already fired is counted into its open alert.
	if a, ok := rs.open.get(key); ok && e.merge(a, ev, 1, ev.ID) {
		return nil
	}
	count, span := e.limits(rs, ev.Tenant)
	w, ok := rs.windows.get(key)
	if !ok {
		w = &window{}
		if th.Distinct != nil {
			w.distinct, _ = simplelru.NewLRU[string, entry](count, nil)
		}
		if _, evicted := rs.windows.put(key, w); evicted {
			e.metrics.evictions.WithLabelValues(rs.rule.ID, "window").Inc()
		}
	}
	if ev.Time.After(w.touched) {
		w.touched = ev.Time
	}
	cut := w.touched.Add(-span)
	var n int
	if th.Distinct != nil {
		v, err := e.matcher.Eval(th.Distinct, ev)
		if err != nil {
			return err
		}
		w.distinct.Add(groupKey(v), entry{at: ev.Time, id: ev.ID})
		w.distinct.Resize(count) // a tenant override may differ from the window's start
		for {
			_, old, ok := w.distinct.GetOldest()
			if !ok || !old.at.Before(cut) {
				break
			}
			w.distinct.RemoveOldest()
		}
		n = w.distinct.Len()
	} else {
		w.insert(entry{at: ev.Time, id: ev.ID})
		drop := 0
		for drop < len(w.entries) && w.entries[drop].at.Before(cut) {
			drop++
		}
		if drop > 0 {
			w.entries = append(w.entries[:0], w.entries[drop:]...)
		}
		n = len(w.entries)
	}
	if n < count {
		return nil
	}
	first, ids := w.fired(e.cfg.MaxEventIDs)
	rs.windows.remove(key)
	return e.fireKey(rs, ev, key, n, first, ids, span, nil)
}

// insert adds en in time order: at the end, unless it is late.
func (w *window) insert(en entry) {
	w.entries = append(w.entries, en)
	for i := len(w.entries) - 1; i > 0 && en.at.Before(w.entries[i-1].at); i-- {
		w.entries[i], w.entries[i-1] = w.entries[i-1], w.entries[i]
	}
}

// fired returns the time of the window's oldest event and the ids of its
// first max events.
func (w *window) fired(max int) (time.Time, []string) {
	var first time.Time
	var ids []string
	add := func(en entry) {
		if first.IsZero() || en.at.Before(first) {
			first = en.at
		}
		if len(ids) < max {
			ids = append(ids, en.id)
		}
	}
	if w.distinct != nil {
		for _, en := range w.distinct.Values() {
			add(en)
		}
	} else {
		for _, en := range w.entries {
			add(en)
		}
	}
	return first, ids
}

// idle reports whether the window holds nothing that can still count at
// event time now.
func (w *window) idle(now time.Time, span time.Duration) bool {
	return now.Sub(w.touched) > span
}
