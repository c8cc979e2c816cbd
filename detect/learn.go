package detect

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/montanaflynn/stats"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// learned is the state of a rule that learns from history (new_term,
// baseline). It learns from every event its learn condition holds for,
// live or from history (Learn, Warm), and fires only on live events, and
// not while it is warming from history.
type learned struct {
	fingerprint string
	warming     bool      // learning from history: no alerts
	warm        bool      // learned from history
	since       time.Time // the earliest event learned

	// new_term: terms by hash of tenant, key and term, and keys by hash
	// of tenant and key.
	terms, keys *seenMap
	// baseline: series by hash of tenant and key; a tenant's own series
	// (the fallback of hours) by hash of "\x00tenant" and tenant.
	series  map[uint64]*series
	entries int // hours kept over all series
}

func (e *Engine) newLearned(r *rules.Rule) *learned {
	l := &learned{fingerprint: r.Learns().Fingerprint}
	if r.NewTerm != nil {
		l.terms, l.keys = newSeenMap(e.cfg.MaxTerms), newSeenMap(e.cfg.MaxKeys)
	} else {
		l.series = map[uint64]*series{}
	}
	return l
}

// learnOrFire evaluates a new_term or baseline rule on ev: it learns from
// the event if its learn condition holds, and, when live, checks whether
// the event is anomalous against what was learned before it.
func (e *Engine) learnOrFire(rs *ruleState, ev *event.Event, live bool) error {
	r, lg := rs.rule, rs.rule.Learns()
	whenHit := r.When != nil && (r.Guard == nil || r.Guard(ev))
	if whenHit && !r.Exact {
		var err error
		if whenHit, err = e.matcher.True(r.When, ev); err != nil {
			return err
		}
	}
	learnHit := whenHit
	if lg.Learn != nil {
		learnHit = lg.LearnGuard == nil || lg.LearnGuard(ev)
		if learnHit && !lg.LearnExact {
			var err error
			if learnHit, err = e.matcher.True(lg.Learn, ev); err != nil {
				return err
			}
		}
	}
	if !whenHit && !learnHit {
		return nil
	}
	key, err := e.keyOf(lg, ev)
	if err != nil || key == "" {
		return err
	}
	fire := live && whenHit && !rs.learned.warming
	if fire {
		if ex, err := e.matcher.Excepted(r, ev); err != nil || ex {
			fire = false
			if err != nil {
				return err
			}
		}
	}
	st := rs.learned
	if st.since.IsZero() || ev.Time.Before(st.since) {
		if learnHit {
			st.since = ev.Time
		}
	}
	if r.NewTerm != nil {
		return e.newTerm(rs, ev, key, fire, learnHit)
	}
	if r.Baseline.Rate != nil {
		return e.rate(rs, ev, key, fire, learnHit)
	}
	return e.hours(rs, ev, key, fire, learnHit)
}

// keyOf renders the by key of ev.
func (e *Engine) keyOf(lg *rules.Learning, ev *event.Event) (string, error) {
	if lg.ByField != nil {
		return lg.ByField(ev), nil
	}
	v, err := e.matcher.Eval(lg.By, ev)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "", nil
	}
	return groupKey(v), nil
}

func (e *Engine) newTerm(rs *ruleState, ev *event.Event, key string, fire, learn bool) error {
	nt, st := rs.rule.NewTerm, rs.learned
	parts, err := e.evalAll(ev, nt.Fields, nt.FieldFuncs)
	if err != nil {
		return err
	}
	var terms []string
	if list, ok := termList(parts); ok {
		terms = list
	} else {
		vals := make([]string, len(parts))
		for i, p := range parts {
			if p != nil {
				vals[i] = groupKey(p)
			}
		}
		if term := strings.Join(vals, " / "); strings.Trim(term, " /") != "" {
			terms = []string{term}
		}
	}
	if len(terms) == 0 {
		return nil // nothing to learn: no IP, no user agent
	}
	kh := e.hash.sum(ev.Tenant, key)
	t := secs(ev.Time)
	horizon := secs(ev.Time.Add(-nt.History))
	k, knownKey := st.keys.get(kh)
	canFire := fire && ev.Time.Sub(st.since) >= nt.MinHistory && knownKey && k.last >= horizon
	var fresh []string
	for _, term := range terms {
		th := e.hash.sum(ev.Tenant, key, term)
		if canFire {
			if tv, knownTerm := st.terms.get(th); !knownTerm || tv.last < horizon {
				fresh = append(fresh, term)
			}
		}
		if learn {
			if n := st.terms.see(th, t); n > 0 {
				e.metrics.evictions.WithLabelValues(rs.rule.ID, "term").Add(float64(n))
			}
		}
	}
	if len(fresh) > 0 {
		x := &alertExtra{term: strings.Join(fresh, ", ")}
		if err := e.fireKey(rs, ev, key, 1, ev.Time, []string{ev.ID}, time.Hour, x); err != nil {
			return err
		}
	}
	if learn {
		if n := st.keys.see(kh, t); n > 0 {
			e.metrics.evictions.WithLabelValues(rs.rule.ID, "key").Add(float64(n))
		}
	}
	return nil
}

// maxTermsPerEvent bounds the terms one event's list-valued field gives:
// a request that sets ten thousand attributes costs at most this many
// lookups.
const maxTermsPerEvent = 32

// termList returns the terms of a new_term rule whose one field is a
// list (each element its own term: the attributes a request wrote), the
// empty ones left out and the rest deduplicated, at most maxTermsPerEvent.
func termList(parts []any) ([]string, bool) {
	if len(parts) != 1 {
		return nil, false
	}
	var items []any
	switch v := parts[0].(type) {
	case []any:
		items = v
	case []string:
		for _, s := range v {
			items = append(items, s)
		}
	default:
		return nil, false
	}
	var out []string
	for _, it := range items {
		if it == nil {
			continue
		}
		s := groupKey(it)
		if s == "" || slices.Contains(out, s) {
			continue
		}
		if len(out) == maxTermsPerEvent {
			break
		}
		out = append(out, s)
	}
	return out, true
}

// wallHour is the hour of t in the tenant's time zone, counted from the
// epoch as if that time were UTC, and the UTC offset there.
func (e *Engine) wallHour(t time.Time, tenant string) (uint32, int) {
	off := e.set.Offset(t, tenant)
	w := (t.Unix() + int64(off)) / 3600
	if w < 0 {
		w = 0
	}
	return uint32(w), off
}

// hourEnd is when wall hour h ends in UTC, for a zone of offset off.
func hourEnd(h uint32, off int) time.Time {
	return time.Unix(int64(h+1)*3600-int64(off), 0).UTC()
}

// seriesOf returns the series of hash h, created if absent and create.
func (e *Engine) seriesOf(rs *ruleState, h uint64, create bool) *series {
	st := rs.learned
	s := st.series[h]
	if s == nil && create {
		if len(st.series) >= e.cfg.MaxKeys {
			e.evictSeries(rs)
		}
		s = &series{}
		st.series[h] = s
	}
	return s
}

// learnHour counts ev in s, bounding the hours all series keep.
func (e *Engine) learnHour(rs *ruleState, s *series, h uint32) {
	st := rs.learned
	hist := uint32(rs.rule.Learns().History / time.Hour)
	from := uint32(0)
	if h > hist {
		from = h - hist
	}
	st.entries += s.add(h, from)
	if st.entries > e.cfg.MaxBaselineHours {
		e.evictSeries(rs)
	}
}

// evictSeries drops about a tenth of a baseline's series, those whose
// latest hour is oldest, when it holds more than max_keys series or
// max_baseline_hours hours.
func (e *Engine) evictSeries(rs *ruleState) {
	st := rs.learned
	sample := make([]uint32, 0, 1024)
	for _, s := range st.series {
		if sample = append(sample, s.last()); len(sample) == cap(sample) {
			break
		}
	}
	if len(sample) == 0 {
		return
	}
	slices.Sort(sample)
	cut := sample[len(sample)/10]
	before := len(st.series)
	for h, s := range st.series {
		if s.last() <= cut {
			st.entries -= len(s.hours)
			delete(st.series, h)
		}
	}
	if len(st.series) > before*95/100 {
		for h, s := range st.series { // many at the cut: drop any
			st.entries -= len(s.hours)
			delete(st.series, h)
			if len(st.series) <= before*9/10 {
				break
			}
		}
	}
	e.metrics.evictions.WithLabelValues(rs.rule.ID, "series").Add(float64(before - len(st.series)))
}

// rateLimit is a rate's expectation for one hour of one key.
type rateLimit struct {
	ok                bool // enough history
	limit             int  // fires above it
	median, low, high float64
	history           time.Duration
}

func (e *Engine) rate(rs *ruleState, ev *event.Event, key string, fire, learn bool) error {
	b := rs.rule.Baseline
	h, off := e.wallHour(ev.Time, ev.Tenant)
	s := e.seriesOf(rs, e.hash.sum(ev.Tenant, key), learn)
	if s == nil {
		return nil
	}
	if learn {
		e.learnHour(rs, s, h)
	}
	if !fire {
		return nil
	}
	if s.limHour != h {
		s.limHour, s.lim = h, rateLimitOf(s, h, b)
	}
	n := s.count(h)
	if !s.lim.ok || n <= s.lim.limit {
		return nil
	}
	count := n // the hour's events so far open the alert; each after it adds one
	if s.firedHour == h {
		count = 1
	}
	s.firedHour = h
	x := &alertExtra{stats: &rules.Stats{Observed: n, Median: s.lim.median, Low: s.lim.low, High: float64(s.lim.limit),
		History: s.lim.history, Basis: "key", Hour: localHour(ev.Time, off)}}
	end := hourEnd(h, off)
	return e.fireKey(rs, ev, key, count, ev.Time, []string{ev.ID}, end.Sub(ev.Time), x)
}

// rateLimitOf computes the limit of hour h from the same hour in past
// weeks (the busiest of it and its neighbours), days, or every past hour,
// by the rule's seasonality.
func rateLimitOf(s *series, h uint32, b *rules.Baseline) rateLimit {
	r := b.Rate
	hist := uint32(b.History / time.Hour)
	from := s.first
	if h > hist && h-hist > from {
		from = h - hist
	}
	lim := rateLimit{history: time.Duration(h-from) * time.Hour}
	if h <= from || lim.history < b.MinHistory {
		return lim
	}
	var samples stats.Float64Data
	switch r.Seasonality {
	case rules.SeasonHourOfWeek:
		// Each past week's busiest of the same hour and its neighbours:
		// an hour's work that moved by an hour (a meeting, daylight
		// saving) is still the same hour's.
		for w := h - 168; w >= from+1 && w < h; w -= 168 {
			samples = append(samples, float64(max(s.count(w-1), s.count(w), s.count(w+1))))
		}
	case rules.SeasonHourOfDay:
		for d := h - 24; d >= from && d < h; d -= 24 {
			samples = append(samples, float64(s.count(d)))
		}
	default:
		for x := from; x < h; x++ {
			samples = append(samples, float64(s.count(x)))
		}
	}
	if len(samples) == 0 {
		return lim
	}
	med, _ := stats.Median(samples)
	mad, _ := stats.MedianAbsoluteDeviationPopulation(samples)
	sigma := math.Max(1.4826*mad, 1)
	lim.ok = true
	lim.median = med
	lim.low = math.Max(0, med-r.Deviations*sigma)
	lim.high = med + r.Deviations*sigma
	lim.limit = int(math.Max(float64(r.MinCount-1), math.Floor(lim.high)))
	return lim
}

func (e *Engine) hours(rs *ruleState, ev *event.Event, key string, fire, learn bool) error {
	b := rs.rule.Baseline
	hc := b.Hours
	h, off := e.wallHour(ev.Time, ev.Tenant)
	kh, th := e.hash.sum(ev.Tenant, key), e.hash.sum("\x00tenant", ev.Tenant)
	if fire {
		// The key's own hours, or its tenant's when the key has too little
		// history (a new admin).
		for _, basis := range []string{"key", "tenant"} {
			s := e.seriesOf(rs, kh, false)
			if basis == "tenant" {
				if hc.Fallback != "tenant" {
					break
				}
				s = e.seriesOf(rs, th, false)
			}
			if s == nil {
				continue
			}
			wk := e.set.Weekend(ev.Tenant)
			near, total := s.nearHour(h, wk)
			hist := time.Duration(h-s.first) * time.Hour
			if total < hc.MinEvents || hist < b.MinHistory {
				continue
			}
			if share := float64(near) / float64(total); share < hc.MaxShare {
				x := &alertExtra{stats: &rules.Stats{Observed: near, Total: total, Share: share, History: hist, Basis: basis, Hour: localHour(ev.Time, off), Days: "workdays"}}
				if wk&(1<<wallWeekday(h)) != 0 {
					x.stats.Days = "weekend days"
				}
				if err := e.fireKey(rs, ev, key, 1, ev.Time, []string{ev.ID}, time.Hour, x); err != nil {
					return err
				}
			}
			break
		}
	}
	if learn {
		e.learnHour(rs, e.seriesOf(rs, kh, true), h)
		e.learnHour(rs, e.seriesOf(rs, th, true), h)
	}
	return nil
}

// localHour renders t at offset off: "Sun 03:00".
func localHour(t time.Time, off int) string {
	return t.In(time.FixedZone("", off)).Truncate(time.Hour).Format("Mon 15:04")
}

// sweepLearned drops what a history rule no longer remembers at event
// time now: terms and keys last seen, and hours, before its history.
func (e *Engine) sweepLearned(rs *ruleState, now time.Time) {
	st, lg := rs.learned, rs.rule.Learns()
	if st == nil || lg == nil {
		return
	}
	if st.terms != nil {
		cut := secs(now.Add(-lg.History))
		st.terms.expire(cut)
		st.keys.expire(cut)
		e.metrics.keys.WithLabelValues(rs.rule.ID, "term").Set(float64(st.terms.len()))
		e.metrics.keys.WithLabelValues(rs.rule.ID, "key").Set(float64(st.keys.len()))
		return
	}
	// Wall hours run up to 14 hours ahead of UTC ones: keep those too.
	cut := uint32(max(0, (now.Unix()-int64(lg.History/time.Second))/3600-14))
	for h, s := range st.series {
		st.entries -= s.trim(cut)
		if len(s.hours) == 0 {
			delete(st.series, h)
		}
	}
	e.metrics.keys.WithLabelValues(rs.rule.ID, "series").Set(float64(len(st.series)))
	e.metrics.keys.WithLabelValues(rs.rule.ID, "hour").Set(float64(st.entries))
}
