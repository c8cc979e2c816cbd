package detect

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// Engine evaluates a rule set on events. Simple rules alert as soon as an
// event is processed; threshold and sequence rules evaluate events in
// event-time order, AllowedLateness behind the stream. Process, Tick and
// Flush are safe to call from several goroutines (they serialize); alerts
// are handed to the Sink after the engine's lock is released, in order.
type Engine struct {
	cfg     Config
	sink    Sink
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time
	hash    hasher

	mu        sync.Mutex
	immediate ruleIndex // simple rules: at arrival
	ordered   ruleIndex // thresholds and sequences: in event-time order
	states    map[string]*ruleState
	set       *rules.Set
	scheduled []*rules.Rule
	matcher   rules.Matcher
	clock     clock
	pending   eventQueue  // held for lateness
	scratch   event.Event // the event being evaluated, popped from pending
	closing   closeHeap   // open alerts by the end of their period
	swept     time.Time   // event time of the last sweep of idle state
	ids       *idSet      // the ids of events seen within RepeatHorizon
	outbox    []Alert     // raised, not yet accepted by the sink
	spare     []Alert     // the outbox's other buffer, for the next batch
	stats     Stats

	deliverMu sync.Mutex // one delivery at a time, in order
	// refusalMu guards refusal apart from deliverMu, which is held for as
	// long as the sink takes to answer: readiness and the backoff check
	// must not wait for a store that hangs.
	refusalMu sync.Mutex
	refusal   refusal
}

// refusal is the state of a sink that refuses alerts (alerting's store
// down): since when, how many attempts, the last error, and when to try
// again. While it lasts, alerts are held and handed over at most once per
// backoff, not once per event read (which flooded the log and ClickHouse
// during an outage).
type refusal struct {
	since, retryAt time.Time
	attempts       int
	wait           time.Duration
	err            error
}

// Delivery backoff: from the first refusal, doubling up to the cap.
const (
	deliveryBackoffMin = 100 * time.Millisecond
	deliveryBackoffMax = 30 * time.Second
)

// Stats counts what the engine did.
type Stats struct {
	Events, Late, Future, Alerts int
	// Repeats are events seen before (same tenant, source and id) and
	// not evaluated again.
	Repeats int
}

// Stats returns the counts so far.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// ruleState is one rule's state: its windows or sequences per key, and its
// open (deduplicating) alerts per key, each bounded by MaxKeys.
type ruleState struct {
	rule    *rules.Rule
	windows *keyed[*window]
	seqs    *keyed[*seqState]
	open    *keyed[*openAlert]
	learned *learned // new_term and baseline
}

// ruleIndex finds the rules an event's action can match.
type ruleIndex struct {
	byAction  map[string][]*ruleState
	anyAction []*ruleState
}

func (x *ruleIndex) add(rs *ruleState) {
	if rs.rule.Actions == nil {
		x.anyAction = append(x.anyAction, rs)
		return
	}
	for _, a := range rs.rule.Actions {
		x.byAction[a] = append(x.byAction[a], rs)
	}
}

func (x *ruleIndex) has(action string) bool {
	return len(x.anyAction) > 0 || len(x.byAction[action]) > 0
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
	e := &Engine{cfg: cfg, sink: sink, logger: logger, metrics: newMetrics(reg), states: map[string]*ruleState{}, now: cfg.Now, hash: newHasher()}
	if e.now == nil {
		e.now = time.Now
	}
	if cfg.RepeatHorizon > 0 {
		e.ids = newIDSet(cfg.MaxRepeatIDs)
	}
	if err := e.setRules(set); err != nil {
		return nil, err
	}
	return e, nil
}

// SetRules replaces the rule set. State (windows, sequences, open alerts)
// of rules whose id is still there is kept. A set the config does not fit
// (an override of a rule it lacks) is refused, and the running one kept.
func (e *Engine) SetRules(set *rules.Set) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.setRules(set)
}

func (e *Engine) setRules(set *rules.Set) error {
	if err := e.cfg.CheckRules(set); err != nil {
		return err
	}
	e.immediate = ruleIndex{byAction: map[string][]*ruleState{}}
	e.ordered = ruleIndex{byAction: map[string][]*ruleState{}}
	keep := map[string]*ruleState{}
	e.scheduled = nil
	for _, r := range set.Rules {
		if r.Scheduled != nil {
			// Run by a Scheduler on ClickHouse, not on events.
			e.scheduled = append(e.scheduled, r)
			continue
		}
		rs := e.states[r.ID]
		if rs == nil || rs.rule.Kind() != r.Kind() || r.Learns() != nil && rs.learned.fingerprint != r.Learns().Fingerprint {
			// New, or its state means something else now: start afresh
			// (a history rule learns again, from Warm or the stream).
			rs = &ruleState{windows: newKeyed[*window](e.cfg.MaxKeys), seqs: newKeyed[*seqState](e.cfg.MaxKeys), open: newKeyed[*openAlert](e.cfg.MaxKeys)}
			if r.Learns() != nil {
				rs.learned = e.newLearned(r)
			}
		}
		rs.rule = r
		keep[r.ID] = rs
		if r.Kind() == rules.KindSimple {
			e.immediate.add(rs)
		} else {
			e.ordered.add(rs)
		}
	}
	e.states = keep
	e.set = set
	e.metrics.rules.Set(float64(len(set.Rules)))
	return nil
}

// Process takes one event. Simple rules evaluate it now; thresholds and
// sequences once the stream's event time is AllowedLateness past it. It
// returns the sink's error if alerts could not be handed over (they are
// kept and retried).
func (e *Engine) Process(ev *event.Event) error {
	e.mu.Lock()
	if e.repeated(ev) {
		e.mu.Unlock()
		return nil
	}
	e.metrics.events.Inc()
	e.stats.Events++
	switch {
	case e.tooFarAhead(ev.Time) || ev.Trimmed.Time != "":
		// A clock that lies must not move event time: placed at the
		// current event time (the wall clock before any event), evaluated
		// now by every rule. So is an event whose own time was outside
		// the sane range (source.Limits placed it at its receipt, which a
		// replay of old records is far from).
		e.metrics.future.Inc()
		e.stats.Future++
		at := e.clock.watermark
		if at.IsZero() {
			at = e.now()
		}
		skewed := *ev
		skewed.Time = at
		e.evaluate(&e.immediate, &skewed)
		e.evaluate(&e.ordered, &skewed)
		e.clock.arrivals++
	case ev.Time.Before(e.clock.released) && e.ordered.has(ev.Action):
		// Later than allowed: evaluated now, out of order.
		e.metrics.late.Inc()
		e.stats.Late++
		e.evaluate(&e.immediate, ev)
		e.evaluate(&e.ordered, ev)
		e.clock.arrive(ev.Time)
	default:
		e.evaluate(&e.immediate, ev)
		if e.ordered.has(ev.Action) {
			e.pending.push(ev)
		}
		e.clock.arrive(ev.Time)
		e.advance()
	}
	raised := len(e.outbox) > 0
	e.mu.Unlock()
	if !raised {
		return nil
	}
	return e.deliver(false)
}

// repeated reports whether an event of the same tenant, source and id was
// seen within RepeatHorizon, and remembers this one: a repeat is counted
// and not evaluated again.
func (e *Engine) repeated(ev *event.Event) bool {
	if e.ids == nil || ev.ID == "" {
		return false
	}
	seen, evicted := e.ids.add(e.hash.sum(ev.Tenant, ev.Source, ev.ID), secs(ev.Time))
	if evicted > 0 {
		e.metrics.evictions.WithLabelValues("", "event_id").Add(float64(evicted))
	}
	if seen {
		e.metrics.repeats.Inc()
		e.stats.Repeats++
	}
	return seen
}

// tooFarAhead reports whether t is more than MaxFutureSkew ahead of the
// wall clock, reading the clock only when t passes the limit last read.
func (e *Engine) tooFarAhead(t time.Time) bool {
	if e.cfg.MaxFutureSkew <= 0 || !t.After(e.clock.skewLimit) {
		return false
	}
	e.clock.skewLimit = e.now().Add(e.cfg.MaxFutureSkew)
	return t.After(e.clock.skewLimit)
}

// Tick moves a quiet stream's event time on by the wall-clock time since
// the last tick, so that held events are evaluated and open alerts
// resolve though no newer event comes. A live stream calls it every second
// or so; a replay never does.
func (e *Engine) Tick() error {
	e.mu.Lock()
	e.clock.tick(e.now())
	e.advance()
	e.mu.Unlock()
	return e.deliver(false)
}

// Flush evaluates every held event and resolves every open alert: the end
// of a replay, or shutdown.
func (e *Engine) Flush() error {
	e.mu.Lock()
	for e.pending.len() > 0 {
		e.release(e.pending.pop(&e.scratch))
	}
	e.closeUntil(time.Time{})
	e.mu.Unlock()
	return e.deliver(true)
}

// advance evaluates the held events the watermark has passed by
// AllowedLateness, and resolves the alerts whose period ended by then.
func (e *Engine) advance() {
	until := e.clock.watermark.Add(-e.cfg.AllowedLateness)
	for e.pending.len() > 0 && !e.pending.first().Time.After(until) {
		e.release(e.pending.pop(&e.scratch))
	}
	if until.After(e.clock.released) {
		e.closeUntil(until)
		if until.Sub(e.swept) > time.Minute {
			if e.ids != nil {
				e.ids.expire(secs(until.Add(-e.cfg.RepeatHorizon)))
				e.metrics.keys.WithLabelValues("", "event_id").Set(float64(e.ids.len()))
			}
			e.sweep(until)
			e.swept = until
		}
	}
}

// release evaluates a held event by the ordered rules.
func (e *Engine) release(ev *event.Event) {
	if ev.Time.After(e.clock.released) {
		e.clock.released = ev.Time
	}
	e.evaluate(&e.ordered, ev)
}

// evaluate runs the candidate rules of one event.
func (e *Engine) evaluate(x *ruleIndex, ev *event.Event) {
	for _, list := range [2][]*ruleState{x.byAction[ev.Action], x.anyAction} {
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
	if rs.learned != nil {
		return e.learnOrFire(rs, ev, true)
	}
	hit, err := e.matcher.Match(r, ev)
	if err != nil || !hit {
		return err
	}
	if r.Threshold != nil {
		return e.threshold(rs, ev)
	}
	return e.fireKey(rs, ev, ev.ID, 1, ev.Time, []string{ev.ID}, 0, nil)
}

// sweep drops windows and sequences that can no longer fire: a window whose
// newest event is older than the rule's window, a sequence whose latest
// start is older than its within. Keys that stop receiving events do not
// hold memory.
func (e *Engine) sweep(now time.Time) {
	for _, rs := range e.states {
		if th := rs.rule.Threshold; th != nil {
			span := th.Window
			for _, rs2 := range e.cfg.Overrides {
				if o, ok := rs2[rs.rule.ID]; ok && o.Window > span {
					span = o.Window
				}
			}
			rs.windows.sweep(func(w *window) bool { return w.idle(now, span) })
		}
		if sq := rs.rule.Sequence; sq != nil {
			rs.seqs.sweep(func(s *seqState) bool { return s.idle(now, sq.Within) })
		}
		e.sweepLearned(rs, now)
		e.metrics.keys.WithLabelValues(rs.rule.ID, "window").Set(float64(rs.windows.len()))
		e.metrics.keys.WithLabelValues(rs.rule.ID, "sequence").Set(float64(rs.seqs.len()))
		e.metrics.keys.WithLabelValues(rs.rule.ID, "dedup").Set(float64(rs.open.len()))
	}
}

// emit queues an alert for the sink.
func (e *Engine) emit(a *Alert) {
	if len(e.outbox) >= e.cfg.MaxPendingAlerts {
		e.metrics.dropped.Inc()
		e.logger.Error("alert dropped: the sink has not accepted alerts for too long", "rule", e.outbox[0].Rule, "id", e.outbox[0].ID)
		e.outbox = e.outbox[1:]
	}
	e.outbox = append(e.outbox, a.snapshot())
}

// deliver hands the queued alerts to the sink, in order, outside the
// engine's lock. What the sink refuses stays queued, ahead of newer alerts,
// and is handed over again once the backoff since the last refusal passed
// (at once when force: a flush). It returns the sink's error when it
// tried and failed, nil when it succeeded or held the alerts back.
func (e *Engine) deliver(force bool) error {
	if !force && e.backingOff() {
		return nil // held: DeliveryError says so
	}
	e.deliverMu.Lock()
	defer e.deliverMu.Unlock()
	if !force && e.backingOff() { // another delivery failed meanwhile
		return nil
	}
	e.mu.Lock()
	batch := e.outbox
	e.outbox, e.spare = e.spare[:0], nil
	e.mu.Unlock()
	for i := range batch {
		if err := e.sink.Alert(batch[i]); err != nil {
			e.metrics.sinkErrors.Inc()
			e.mu.Lock()
			e.outbox = append(batch[i:len(batch):len(batch)], e.outbox...)
			for len(e.outbox) > e.cfg.MaxPendingAlerts {
				e.metrics.dropped.Inc()
				e.outbox = e.outbox[1:]
			}
			pending := len(e.outbox)
			e.mu.Unlock()
			err = fmt.Errorf("handing alert %s of rule %s to the sink: %w", batch[i].ID, batch[i].Rule, err)
			e.refused(err, pending)
			return err
		}
		e.metrics.pending.Set(float64(len(batch) - i - 1))
	}
	clear(batch)
	e.mu.Lock()
	e.spare = batch[:0]
	pending := len(e.outbox)
	e.mu.Unlock()
	e.metrics.pending.Set(float64(pending))
	e.refusalMu.Lock()
	defer e.refusalMu.Unlock()
	if !e.refusal.since.IsZero() {
		e.logger.Info("alerts handed over again", "refused_attempts", e.refusal.attempts,
			"for", e.now().Sub(e.refusal.since).Round(time.Millisecond), "last_err", e.refusal.err)
		e.refusal = refusal{}
		e.metrics.refusedSince.Set(0)
	}
	return nil
}

// backingOff reports whether the sink refused alerts and the backoff
// since has not passed.
func (e *Engine) backingOff() bool {
	e.refusalMu.Lock()
	defer e.refusalMu.Unlock()
	return !e.refusal.since.IsZero() && e.now().Before(e.refusal.retryAt)
}

// refused records a refusal: logged when the sink starts refusing, not
// at each attempt; the next attempt waits a backoff.
func (e *Engine) refused(err error, pending int) {
	e.refusalMu.Lock()
	defer e.refusalMu.Unlock()
	r := &e.refusal
	now := e.now()
	r.attempts++
	r.err = err
	if r.since.IsZero() {
		r.since, r.wait = now, deliveryBackoffMin
		e.metrics.refusedSince.Set(float64(now.Unix()))
		e.logger.Error("alerts not handed over: the sink refuses them; they are held and handed over again with backoff",
			"pending", pending, "err", err)
	} else {
		r.wait = min(2*r.wait, deliveryBackoffMax)
	}
	r.retryAt = now.Add(r.wait)
	e.metrics.pending.Set(float64(pending))
}

// DeliveryError is nil while the sink takes alerts, and says since when,
// how often and why it refuses them otherwise (readiness).
func (e *Engine) DeliveryError() error {
	e.refusalMu.Lock()
	r := e.refusal
	e.refusalMu.Unlock()
	if r.since.IsZero() {
		return nil
	}
	e.mu.Lock()
	pending := len(e.outbox)
	e.mu.Unlock()
	return fmt.Errorf("detect: alerts not handed over since %s (%d attempts, %d held): %w",
		r.since.UTC().Format(time.RFC3339), r.attempts, pending, r.err)
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
func (e *Engine) evalAll(ev *event.Event, progs []*vm.Program, fields []func(*event.Event) string) ([]any, error) {
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
