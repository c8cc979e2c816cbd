package detect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

const newTermRule = `rules:
  - id: new-source
    title: 'New source {{.Term}}'
    severity: high
    when: action == "user.create"
    new_term:
      by: actor.id
      fields: [actor.ip]
      history: 30d
      min_history: 1d
`

const rateRule = `rules:
  - id: rate
    title: '{{.Stats.Observed}} grants, usually {{.Stats.Median}}, at most {{.Stats.High}}'
    severity: medium
    when: action == "role.grant"
    baseline:
      by: actor.id
      history: 2w
      min_history: 1w
      rate: {seasonality: hour_of_week, min_count: 5}
`

// liveEngine is an engine that fires at once on events of any date.
func liveEngine(t *testing.T, cfg Config, src string) (*Engine, *recorder) {
	t.Helper()
	cfg.AllowedLateness = 0
	cfg.MaxFutureSkew = 0
	return engineWith(t, cfg, t.TempDir(), src)
}

func create(id string, at time.Duration, actor, ip string) *event.Event {
	e := ev(id, at, event.ActionUserCreate, actor, "u-"+id)
	e.Actor.IP = ip
	return e
}

// TestNewTermStateIsBounded: a flood of new terms (an attacker cycling
// addresses) keeps max_terms terms, counts what it evicts, and does not
// forget a term in steady use: only the terms seen longest ago go.
func TestNewTermStateIsBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTerms = 1000
	e, rec := liveEngine(t, cfg, newTermRule)
	e.Process(create("first", 0, "scim", "10.0.0.1"))
	const n = 100000
	for i := 1; i <= n; i++ {
		at := 2*24*time.Hour + time.Duration(i)*time.Second
		ip := fmt.Sprintf("198.51.%d.%d", i/256, i%256)
		if i%100 == 0 {
			ip = "10.0.0.1" // the client's own address, in steady use
		}
		e.Process(create(fmt.Sprint("c", i), at, "scim", ip))
	}
	e.Flush()
	st := e.states["new-source"].learned
	if st.terms.len() > cfg.MaxTerms {
		t.Errorf("%d terms kept, more than max_terms %d", st.terms.len(), cfg.MaxTerms)
	}
	if got := testutil.ToFloat64(e.metrics.evictions.WithLabelValues("new-source", "term")); got < n-float64(cfg.MaxTerms)-float64(n/100) {
		t.Errorf("%v term evictions counted, want about %d", got, n-cfg.MaxTerms)
	}
	if _, ok := st.terms.get(e.hash.sum("acme", "scim", "10.0.0.1")); !ok {
		t.Error("the address in steady use was forgotten")
	}
	if len(rec.byRule("new-source")) == 0 {
		t.Fatal("the flood of new addresses raised nothing")
	}
}

// TestBaselineStateIsBounded: a flood of new keys over many hours keeps
// at most max_keys series and max_baseline_hours hours, and the count of
// hours it keeps is exact after evictions.
func TestBaselineStateIsBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys = 500
	cfg.MaxBaselineHours = 3000
	e, _ := liveEngine(t, cfg, rateRule)
	for i := 0; i < 20000; i++ {
		// Actor i%2000 acts every 2000 events, an hour apart each time.
		at := time.Duration(i) * 3 * time.Minute
		e.Process(ev(fmt.Sprint("g", i), at, event.ActionRoleGrant, fmt.Sprint("actor-", i%2000)))
	}
	e.Flush()
	st := e.states["rate"].learned
	sum := 0
	for _, s := range st.series {
		sum += len(s.hours)
	}
	if len(st.series) > cfg.MaxKeys || st.entries > cfg.MaxBaselineHours || sum != st.entries {
		t.Errorf("%d series, %d hours counted, %d held: want at most %d series, %d hours, and the count exact",
			len(st.series), st.entries, sum, cfg.MaxKeys, cfg.MaxBaselineHours)
	}
	if got := testutil.ToFloat64(e.metrics.evictions.WithLabelValues("rate", "series")); got == 0 {
		t.Error("no series eviction counted")
	}
}

// TestRateFiresAboveTheKeysOwnBaseline: an actor who grants a role or two
// an hour fires on a burst in that hour of the week, with the expected
// range in the alert, not before min_history, and each event after the
// alert opened adds one to it.
func TestRateFiresAboveTheKeysOwnBaseline(t *testing.T) {
	e, rec := liveEngine(t, DefaultConfig(), rateRule)
	week := 7 * 24 * time.Hour
	n := 0
	grant := func(at time.Duration) {
		n++
		e.Process(ev(fmt.Sprint("g", n), at, event.ActionRoleGrant, "admin"))
	}
	// A burst in the first week: no history yet, nothing fires.
	for i := 0; i < 30; i++ {
		grant(time.Duration(i) * time.Minute)
	}
	// Two weeks of two grants at this hour on each day.
	for d := 1; d < 14; d++ {
		grant(time.Duration(d)*24*time.Hour + 5*time.Minute)
		grant(time.Duration(d)*24*time.Hour + 25*time.Minute)
	}
	if got := rec.byRule("rate"); len(got) != 0 {
		t.Fatalf("fired before min_history or on usual traffic: %+v", got)
	}
	for i := 0; i < 12; i++ {
		grant(2*week + time.Duration(i)*time.Minute)
	}
	e.Flush()
	got := rec.byRule("rate")
	if len(got) != 1 {
		t.Fatalf("%d alerts, want 1", len(got))
	}
	a := got[0]
	// The limit: median 2 + 5 deviations of at least 1.
	if a.Count != 12 || a.Title != "8 grants, usually 2, at most 7" {
		t.Errorf("alert count %d, %q: want 12 events, opened at the 8th, usually 2", a.Count, a.Title)
	}
}

// listSource is history held in memory; it fails after failAfter events
// when failAfter > 0, and calls during (when set) halfway through.
type listSource struct {
	events    []*event.Event
	failAfter int
	during    func()
}

func (s *listSource) Events(ctx context.Context, from, to time.Time, actions []string, fn func(*event.Event) error) error {
	for i, ev := range s.events {
		if s.failAfter > 0 && i == s.failAfter {
			return errors.New("connection reset")
		}
		if i == len(s.events)/2 && s.during != nil {
			s.during()
		}
		if ev.Time.Before(from) || !ev.Time.Before(to) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

func historyOf(days int, actor, ip string) []*event.Event {
	var out []*event.Event
	for d := 0; d < days; d++ {
		out = append(out, create(fmt.Sprint("h", d), time.Duration(d)*24*time.Hour, actor, ip))
	}
	return out
}

// TestWarmLearnsWithoutFiring: warmed from history, a known term is quiet
// and a new one fires; an event that arrives while warming is learned but
// raises nothing.
func TestWarmLearnsWithoutFiring(t *testing.T) {
	e, rec := liveEngine(t, DefaultConfig(), newTermRule)
	src := &listSource{events: historyOf(10, "scim", "10.0.0.1")}
	src.during = func() { e.Process(create("live-0", 10*24*time.Hour, "scim", "203.0.113.7")) }
	st, err := e.Warm(context.Background(), src, t0.Add(10*24*time.Hour))
	if err != nil || st.Events != 10 || len(st.Rules) != 1 {
		t.Fatalf("warm: %+v, %v", st, err)
	}
	if got := testutil.ToFloat64(e.metrics.warm.WithLabelValues("new-source")); got != 1 {
		t.Errorf("history_warm %v, want 1", got)
	}
	e.Process(create("live-1", 10*24*time.Hour+time.Hour, "scim", "10.0.0.1"))
	e.Process(create("live-2", 10*24*time.Hour+2*time.Hour, "scim", "203.0.113.7")) // learned while warming
	e.Process(create("live-3", 10*24*time.Hour+3*time.Hour, "scim", "192.0.2.1"))
	e.Flush()
	got := rec.byRule("new-source")
	if len(got) != 1 || got[0].Title != "New source 192.0.2.1" {
		t.Fatalf("alerts %+v, want one, on 192.0.2.1", got)
	}
	// Warm again: nothing left to warm.
	if st, err := e.Warm(context.Background(), src, t0.Add(11*24*time.Hour)); err != nil || len(st.Rules) != 0 {
		t.Errorf("second warm: %+v, %v", st, err)
	}
}

// TestWarmFailureStartsCold: half-learned history is dropped; the rule
// learns from the stream and waits out min_history again.
func TestWarmFailureStartsCold(t *testing.T) {
	e, rec := liveEngine(t, DefaultConfig(), newTermRule)
	src := &listSource{events: historyOf(10, "scim", "10.0.0.1"), failAfter: 6}
	if _, err := e.Warm(context.Background(), src, t0.Add(10*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("warm error %v, want the source's", err)
	}
	if got := testutil.ToFloat64(e.metrics.warm.WithLabelValues("new-source")); got != 0 {
		t.Errorf("history_warm %v after a failure, want 0", got)
	}
	if n := e.states["new-source"].learned.terms.len(); n != 0 {
		t.Errorf("%d terms kept from a failed warm", n)
	}
	e.Process(create("live-1", 10*24*time.Hour, "scim", "10.0.0.1"))
	e.Process(create("live-2", 10*24*time.Hour+time.Hour, "scim", "192.0.2.1")) // within min_history of what it learned
	e.Process(create("live-3", 12*24*time.Hour, "scim", "192.0.2.2"))
	e.Flush()
	if got := rec.byRule("new-source"); len(got) != 1 || got[0].Title != "New source 192.0.2.2" {
		t.Fatalf("alerts %+v, want one, on 192.0.2.2 (after min_history)", got)
	}
	// A later Warm succeeds.
	src.failAfter = 0
	if st, err := e.Warm(context.Background(), src, t0.Add(12*24*time.Hour)); err != nil || len(st.Rules) != 1 {
		t.Errorf("retried warm: %+v, %v", st, err)
	}
}

// TestReloadKeepsWhatRulesLearned: a reload that leaves a rule's learning
// as it was keeps what it learned; one that changes it (other fields)
// starts it cold.
func TestReloadKeepsWhatRulesLearned(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.AllowedLateness, cfg.MaxFutureSkew = 0, 0
	e, rec := engineWith(t, cfg, dir, newTermRule)
	for _, x := range historyOf(5, "scim", "10.0.0.1") {
		e.Process(x)
	}
	reload := func(src string) {
		t.Helper()
		if err := writeString(dir+"/r.yaml", src); err != nil {
			t.Fatal(err)
		}
		set, err := rules.Load(rules.Options{}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.SetRules(set); err != nil {
			t.Fatal(err)
		}
	}
	// A new title: the same learning.
	reload(strings.Replace(newTermRule, "New source", "Source never seen", 1))
	e.Process(create("a", 5*24*time.Hour, "scim", "10.0.0.1"))
	e.Process(create("b", 5*24*time.Hour+time.Minute, "scim", "192.0.2.1"))
	e.Flush()
	if got := rec.byRule("new-source"); len(got) != 1 || got[0].Title != "Source never seen 192.0.2.1" {
		t.Fatalf("after a reload of the title: %+v, want one alert on 192.0.2.1 with the new title", got)
	}
	// Other fields: what it learned means something else now.
	reload(strings.Replace(newTermRule, "fields: [actor.ip]", "fields: [actor.ip, actor.user_agent]", 1))
	if n := e.states["new-source"].learned.terms.len(); n != 0 {
		t.Errorf("%d terms kept across a change of fields", n)
	}
	e.Process(create("c", 5*24*time.Hour+2*time.Minute, "scim", "192.0.2.9"))
	e.Flush()
	if got := rec.byRule("new-source"); len(got) != 1 {
		t.Errorf("a rule restarted cold fired within min_history: %+v", got[1:])
	}
}

// fakeQuerier answers every query with rows, and records the queries.
type fakeQuerier struct {
	tenants []string
	rows    []map[string]any
	stats   QueryStats
	err     error
	queries []Query
}

func (q *fakeQuerier) Tenants(context.Context) ([]string, error) { return q.tenants, nil }

func (q *fakeQuerier) Query(ctx context.Context, qu Query, fn func(map[string]any) error) (QueryStats, error) {
	q.queries = append(q.queries, qu)
	if q.err != nil {
		return QueryStats{}, q.err
	}
	for _, r := range q.rows {
		row := map[string]any{}
		for k, v := range r {
			row[k] = v
		}
		if err := fn(row); err != nil {
			return q.stats, err
		}
	}
	return q.stats, nil
}

// memReports is Reports in memory, shared by schedulers as ClickHouse is.
type memReports map[string]time.Time

func (m memReports) LastReported(ctx context.Context, rule string, since time.Time) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for k, at := range m {
		if r, key, _ := strings.Cut(k, "\x01"); r == rule && !at.Before(since) {
			out[key] = at
		}
	}
	return out, nil
}

func (m memReports) Reported(ctx context.Context, rule, tenant string, keys []string, at time.Time) error {
	for _, k := range keys {
		m[rule+"\x01"+tenant+"\x00"+k] = at
	}
	return nil
}

const scheduledRule = `rules:
  - id: idle
    title: 'Idle {{.Row.key}} for {{.Row.idle_days}} days'
    severity: low
    when: row.idle_days >= params.days
    scheduled:
      interval: 6h
      period: 30d
      params: {days: 90}
      query: SELECT user_id AS key, idle_days FROM accounts WHERE tenant = @tenant AND idle_days >= @days
      limits: {timeout: 5s, max_rows_to_read: 1000000, max_rows: 100}
`

// TestScheduledReportsOncePerPeriod: each key of each tenant is reported
// once per period, across a restart (Reports), and again after it; the
// query's text is the rule's and what varies goes in its parameters.
func TestScheduledReportsOncePerPeriod(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Overrides = map[string]map[string]Override{"globex": {"idle": {Params: map[string]any{"days": 180}}}}
	e, rec := liveEngine(t, cfg, scheduledRule)
	q := &fakeQuerier{tenants: []string{"acme", "globex"}, rows: []map[string]any{
		{"key": "u1", "idle_days": uint64(120)}, {"key": "u2", "idle_days": uint64(200)}, {"key": "u3", "idle_days": uint64(10)},
		{"key": "u1", "idle_days": uint64(121)}, // a duplicate row: one report
	}}
	reports := memReports{}
	now := t0
	run := func(s *Scheduler) []Alert {
		t.Helper()
		before := len(rec.final)
		if err := s.RunAll(context.Background(), now); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return append([]Alert(nil), rec.final[before:]...)
	}
	s := NewScheduler(e, q, reports, prometheus.NewRegistry(), nil)
	got := run(s)
	var keys []string
	for _, a := range got {
		keys = append(keys, a.Tenant+"/"+a.Key)
	}
	if strings.Join(keys, " ") != "acme/u1 acme/u2 globex/u2" {
		t.Fatalf("reported %v, want acme/u1 acme/u2 globex/u2 (globex's days are 180)", keys)
	}
	for _, qu := range q.queries {
		if qu.SQL != strings.TrimSpace(e.set.Rules[0].Scheduled.Query) && qu.SQL != e.set.Rules[0].Scheduled.Query {
			t.Errorf("query text %q is not the rule's", qu.SQL)
		}
		want := map[string]int{"acme": 90, "globex": 180}[qu.Params["tenant"].(string)]
		if qu.Params["days"] != want || qu.MaxRowsToRead != 1000000 || qu.MaxRows != 100 || qu.Timeout != 5*time.Second {
			t.Errorf("query %+v: want days %d and the rule's limits", qu, want)
		}
	}
	now = now.Add(6 * time.Hour)
	if got := run(s); len(got) != 0 {
		t.Errorf("reported again within the period: %+v", got)
	}
	now = now.Add(24 * time.Hour)
	if got := run(NewScheduler(e, q, reports, prometheus.NewRegistry(), nil)); len(got) != 0 {
		t.Errorf("a restarted scheduler reported again within the period: %+v", got)
	}
	now = t0.Add(31 * 24 * time.Hour)
	if got := run(s); len(got) != 3 {
		t.Errorf("%d reports after the period, want 3 again", len(got))
	}
}

// TestScheduledLimitsAndErrors: a truncated result is counted and what was
// read is still evaluated; a failed query is an error naming the rule and
// tenant, counted, and the other tenants still run.
func TestScheduledLimitsAndErrors(t *testing.T) {
	e, rec := liveEngine(t, DefaultConfig(), scheduledRule)
	reg := prometheus.NewRegistry()
	q := &fakeQuerier{tenants: []string{"acme"}, rows: []map[string]any{{"key": "u1", "idle_days": uint64(100)}}, stats: QueryStats{Rows: 1, Truncated: true}}
	s := NewScheduler(e, q, nil, reg, nil)
	if err := s.RunAll(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.metrics.truncated.WithLabelValues("idle")); got != 1 {
		t.Errorf("truncated_total %v, want 1", got)
	}
	if len(rec.byRule("idle")) != 1 {
		t.Errorf("the rows read before the limit were not evaluated")
	}
	q.err = errors.New("code: 158, TOO_MANY_ROWS")
	err := s.RunAll(context.Background(), t0.Add(7*time.Hour))
	if err == nil || !strings.Contains(err.Error(), "rule idle, tenant acme") || !strings.Contains(err.Error(), "TOO_MANY_ROWS") {
		t.Errorf("error %v, want one naming the rule, tenant and cause", err)
	}
	if got := testutil.ToFloat64(s.metrics.errors.WithLabelValues("idle")); got != 1 {
		t.Errorf("errors_total %v, want 1", got)
	}
	// A row the rule cannot evaluate (no idle_days) is counted and skipped.
	q.err, q.rows = nil, []map[string]any{{"key": "u9"}, {"key": "u2", "idle_days": uint64(100)}}
	if err := s.RunAll(context.Background(), t0.Add(14*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := rec.byRule("idle"); len(got) != 2 || got[1].Key != "u2" {
		t.Errorf("alerts %+v, want u1 then u2", got)
	}
}

const listTermRule = `rules:
  - id: new-attribute
    title: 'New {{.Term}}'
    severity: high
    when: action == "user.update"
    new_term:
      by: actor.id
      fields: ['map(changes, lower(.field))']
      history: 30d
      min_history: 1d
`

// TestListTerms: a list-valued field is a term per element: a request that
// adds one new attribute to known ones fires naming only the new one, a
// subset of known ones does not fire, and a request setting thousands of
// attributes learns at most maxTermsPerEvent of them.
func TestListTerms(t *testing.T) {
	e, rec := liveEngine(t, DefaultConfig(), listTermRule)
	update := func(id string, at time.Duration, fields ...string) *event.Event {
		x := ev(id, at, event.ActionUserUpdate, "hr-sync", "u-1")
		for _, f := range fields {
			x.Changes = append(x.Changes, event.Change{Field: f, New: "v"})
		}
		return x
	}
	e.Process(update("a", 0, "title", "department"))
	e.Process(update("b", 2*24*time.Hour, "Title"))                      // known, a subset
	e.Process(update("c", 2*24*time.Hour+time.Minute, "title", "roles")) // one new
	e.Process(update("d", 2*24*time.Hour+2*time.Minute, "roles", "title", "department"))
	var many []string
	for i := range 5000 {
		many = append(many, fmt.Sprint("attr", i))
	}
	e.Process(update("flood", 3*24*time.Hour, many...))
	e.Flush()
	if len(rec.final) != 2 || rec.final[0].Title != "New roles" || !strings.HasPrefix(rec.final[1].Title, "New attr0, attr1,") {
		for _, a := range rec.final {
			t.Logf("%s", a.Title)
		}
		t.Fatalf("%d alerts, want New roles and the flood's", len(rec.final))
	}
	if n := strings.Count(rec.final[1].Title, ","); n != maxTermsPerEvent-1 {
		t.Errorf("the flood named %d terms, want %d", n+1, maxTermsPerEvent)
	}
	if n := e.states["new-attribute"].learned.terms.len(); n != 3+maxTermsPerEvent {
		t.Errorf("%d terms learned, want 3 and the flood's first %d", n, maxTermsPerEvent)
	}
}
