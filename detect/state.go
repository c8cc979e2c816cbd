package detect

import (
	"container/heap"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

type vmProgram = vm.Program

// ruleState is one rule's state: its windows or sequences per key, and its
// open (deduplicating) alerts per key.
type ruleState struct {
	rule    *rules.Rule
	windows map[string]*window
	seqs    map[string]*seqState
	open    map[string]*Alert
}

func newRuleState(r *rules.Rule) *ruleState {
	return &ruleState{rule: r, windows: map[string]*window{}, seqs: map[string]*seqState{}, open: map[string]*Alert{}}
}

// window is the sliding window of one threshold group.
type window struct {
	entries  []entry
	distinct map[string]int // value -> entries holding it
	touched  time.Time
}

type entry struct {
	at    time.Time
	value string
	id    string
}

// seqState is how far one key got in a sequence.
type seqState struct {
	step  int
	start time.Time
	ids   []string
}

func (e *Engine) threshold(rs *ruleState, ev *event.Event) error {
	r, th := rs.rule, rs.rule.Threshold
	parts, err := e.evalAll(ev, th.GroupBy, th.GroupFields)
	if err != nil {
		return err
	}
	key := groupKey(parts...)
	// A burst that already fired is counted into its open alert.
	if a := rs.open[key]; a != nil && e.merge(a, ev, 1, ev.ID) {
		return nil
	}
	count, span := th.Count, th.Window
	if o, ok := e.cfg.Overrides[ev.Tenant][r.ID]; ok {
		if o.Count > 0 {
			count = o.Count
		}
		if o.Window > 0 {
			span = o.Window
		}
	}
	w := rs.windows[key]
	if w == nil {
		if len(rs.windows) >= e.cfg.MaxKeys {
			e.evictWindow(rs)
		}
		w = &window{}
		if th.Distinct != nil {
			w.distinct = map[string]int{}
		}
		rs.windows[key] = w
	}
	var value string
	if th.Distinct != nil {
		v, err := e.matcher.Eval(th.Distinct, ev)
		if err != nil {
			return err
		}
		value = groupKey(v)
		w.distinct[value]++
	}
	w.entries = append(w.entries, entry{at: ev.Time, value: value, id: ev.ID})
	w.touched = ev.Time
	cut := ev.Time.Add(-span)
	drop := 0
	for drop < len(w.entries) && w.entries[drop].at.Before(cut) {
		if w.distinct != nil {
			if w.distinct[w.entries[drop].value]--; w.distinct[w.entries[drop].value] == 0 {
				delete(w.distinct, w.entries[drop].value)
			}
		}
		drop++
	}
	w.entries = w.entries[drop:]
	n := len(w.entries)
	if w.distinct != nil {
		n = len(w.distinct)
	}
	if n < count {
		return nil
	}
	ids := make([]string, 0, min(len(w.entries), e.cfg.MaxEventIDs))
	for _, en := range w.entries[:min(len(w.entries), e.cfg.MaxEventIDs)] {
		ids = append(ids, en.id)
	}
	e.fireKey(rs, ev, key, len(w.entries), w.entries[0].at, ids, span)
	delete(rs.windows, key)
	return nil
}

func (e *Engine) sequence(rs *ruleState, ev *event.Event) error {
	r, sq := rs.rule, rs.rule.Sequence
	// Which steps does the event satisfy?
	var steps uint64
	for i, p := range sq.Steps {
		if g := sq.Guards[i]; g != nil && !g(ev) {
			continue
		} else if g != nil && sq.Exact[i] {
			steps |= 1 << i
			continue
		}
		hit, err := e.matcher.True(p, ev)
		if err != nil {
			return err
		}
		if hit {
			steps |= 1 << i
		}
	}
	if steps == 0 {
		return nil
	}
	if ex, err := e.matcher.Excepted(r, ev); ex || err != nil {
		return err
	}
	k, err := e.matcher.Eval(sq.By, ev)
	if err != nil {
		return err
	}
	key := groupKey(k)
	if key == "" || key == "<nil>" {
		return nil
	}
	st := rs.seqs[key]
	if st != nil && ev.Time.Sub(st.start) > sq.Within {
		delete(rs.seqs, key)
		st = nil
	}
	switch {
	case st != nil && steps&(1<<st.step) != 0:
		st.step++
		if len(st.ids) < e.cfg.MaxEventIDs {
			st.ids = append(st.ids, ev.ID)
		}
		if st.step == len(sq.Steps) {
			delete(rs.seqs, key)
			e.fireKey(rs, ev, key, len(sq.Steps), st.start, st.ids, 0)
		}
	case st == nil && steps&1 != 0:
		if len(rs.seqs) >= e.cfg.MaxKeys {
			e.evictSeq(rs)
		}
		rs.seqs[key] = &seqState{step: 1, start: ev.Time, ids: []string{ev.ID}}
	}
	return nil
}

// fireKey raises an alert for key, or counts it into the open alert of its
// dedup key. defaultPeriod is the dedup period when the rule sets none.
func (e *Engine) fireKey(rs *ruleState, ev *event.Event, key string, count int, first time.Time, ids []string, defaultPeriod time.Duration) {
	r := rs.rule
	dk, period := key, r.Dedup.Period
	if period == 0 {
		period = defaultPeriod
	}
	if r.Dedup.Key != nil {
		if v, err := e.matcher.Eval(r.Dedup.Key, ev); err == nil {
			dk = groupKey(ev.Tenant, v)
		}
	} else if r.Dedup.Period > 0 && r.Threshold == nil && r.Sequence == nil {
		dk = ev.Tenant // a simple rule with a period and no key: one alert per tenant
	}
	if a := rs.open[dk]; a != nil && e.merge(a, ev, count, ids...) {
		return
	}
	a := &Alert{
		Rule: r.ID, Severity: r.Severity, Tenant: ev.Tenant, Key: dk, Count: count,
		First: first, Last: ev.Time, Events: ids, Tags: r.Tags,
	}
	d := rules.AlertData{Rule: r, Event: ev, Count: count, Key: dk, First: first, Last: ev.Time}
	a.Title, a.Summary = r.TitleText.Render(d), r.SummaryText.Render(d)
	e.metrics.alerts.WithLabelValues(r.ID).Inc()
	if period <= 0 {
		a.Final = true
		e.sink.Alert(a)
		return
	}
	if len(rs.open) >= e.cfg.MaxKeys {
		e.evictOpen(rs)
	}
	a.until = a.First.Add(period)
	rs.open[dk] = a
	heap.Push(&e.closing, closing{at: a.until, rs: rs, key: dk, alert: a})
	e.sink.Alert(a)
}

// merge counts an event into an open alert if it is within the alert's
// dedup period; it reports whether it did.
func (e *Engine) merge(a *Alert, ev *event.Event, count int, ids ...string) bool {
	if a.Final || !ev.Time.Before(a.until) {
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

// closeUntil closes the open alerts whose dedup period ended by t (all of
// them when t is zero).
func (e *Engine) closeUntil(t time.Time) {
	for e.closing.Len() > 0 && (t.IsZero() || !e.closing[0].at.After(t)) {
		c := heap.Pop(&e.closing).(closing)
		if c.rs.open[c.key] == c.alert {
			delete(c.rs.open, c.key)
		}
		if !c.alert.Final {
			c.alert.Final = true
			e.sink.Alert(c.alert)
		}
	}
}

// sweep drops windows and sequences that can no longer fire: a window whose
// newest event is older than the rule's window, a sequence older than its
// within. Keys that stop receiving events do not hold memory.
func (e *Engine) sweep(now time.Time) {
	for _, rs := range e.states {
		if th := rs.rule.Threshold; th != nil {
			span := th.Window
			for _, rs2 := range e.cfg.Overrides {
				if o, ok := rs2[rs.rule.ID]; ok && o.Window > span {
					span = o.Window
				}
			}
			for k, w := range rs.windows {
				if now.Sub(w.touched) > span {
					delete(rs.windows, k)
				}
			}
		}
		if sq := rs.rule.Sequence; sq != nil {
			for k, st := range rs.seqs {
				if now.Sub(st.start) > sq.Within {
					delete(rs.seqs, k)
				}
			}
		}
	}
}

// Eviction: past MaxKeys, the least recently touched key goes.
func (e *Engine) evictWindow(rs *ruleState) {
	delete(rs.windows, oldest(rs.windows, func(w *window) time.Time { return w.touched }))
	e.metrics.evictions.WithLabelValues(rs.rule.ID, "window").Inc()
}

func (e *Engine) evictSeq(rs *ruleState) {
	delete(rs.seqs, oldest(rs.seqs, func(s *seqState) time.Time { return s.start }))
	e.metrics.evictions.WithLabelValues(rs.rule.ID, "sequence").Inc()
}

func (e *Engine) evictOpen(rs *ruleState) {
	k := oldest(rs.open, func(a *Alert) time.Time { return a.First })
	if a := rs.open[k]; a != nil {
		a.Final = true
		e.sink.Alert(a) // closed early, not lost
	}
	delete(rs.open, k)
	e.metrics.evictions.WithLabelValues(rs.rule.ID, "dedup").Inc()
}

// oldest returns the key of m whose value is the oldest by at.
func oldest[V any](m map[string]V, at func(V) time.Time) string {
	var key string
	var t time.Time
	for k, v := range m {
		if vt := at(v); key == "" || vt.Before(t) {
			key, t = k, vt
		}
	}
	return key
}

// eventQueue holds events in time order for the allowed lateness. Events
// mostly arrive in order, so it is a sorted slice: an in-order event is
// appended, a late one is inserted from the back, the earliest is taken from
// the front. It holds events by value, so holding one does not allocate.
type eventQueue struct {
	buf  []event.Event
	head int
}

func (q *eventQueue) len() int { return len(q.buf) - q.head }

func (q *eventQueue) first() *event.Event { return &q.buf[q.head] }

func (q *eventQueue) push(e *event.Event) {
	q.buf = append(q.buf, *e)
	i := len(q.buf) - 1
	for i > q.head && e.Time.Before(q.buf[i-1].Time) {
		i--
	}
	if i < len(q.buf)-1 {
		copy(q.buf[i+1:], q.buf[i:len(q.buf)-1])
		q.buf[i] = *e
	}
}

// pop moves the earliest event into *into and returns into.
func (q *eventQueue) pop(into *event.Event) *event.Event {
	*into = q.buf[q.head]
	q.buf[q.head] = event.Event{}
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head > 1024 && q.head > len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return into
}

// closeHeap orders open alerts by the end of their dedup period.
type closing struct {
	at    time.Time
	rs    *ruleState
	key   string
	alert *Alert
}

type closeHeap []closing

func (h closeHeap) Len() int           { return len(h) }
func (h closeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h closeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *closeHeap) Push(x any)        { *h = append(*h, x.(closing)) }
func (h *closeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
