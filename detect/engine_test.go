package detect

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

var t0 = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)

func ev(id string, at time.Duration, action, actor string, targets ...string) *event.Event {
	e := &event.Event{ID: id, Time: t0.Add(at), Tenant: "acme", Action: action, Outcome: event.OutcomeSuccess, Actor: event.Actor{ID: actor}}
	for _, t := range targets {
		e.Targets = append(e.Targets, event.Target{Type: event.TargetUser, ID: t})
	}
	return e
}

type recorder struct {
	mu            sync.Mutex
	opened, final []Alert
}

func (r *recorder) Alert(a Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a.Status == StatusFiring {
		r.opened = append(r.opened, a)
	}
	if a.Final {
		r.final = append(r.final, a)
	}
	return nil
}

func (r *recorder) byRule(id string) []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Alert
	for _, a := range r.final {
		if a.Rule == id {
			out = append(out, a)
		}
	}
	return out
}

func newEngine(t *testing.T, cfg Config) (*Engine, *recorder, *prometheus.Registry) {
	t.Helper()
	set, err := rules.Load(rules.Options{}, "testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0.Add(48 * time.Hour) }
	}
	e, err := New(cfg, set, rec, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, rec, reg
}

func TestThresholdAndDedupCountTheBurst(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEventIDs = 4
	e, rec, _ := newEngine(t, cfg)
	for i := 0; i < 7; i++ { // 7 grants in 7 minutes: fires at the 3rd, counts the rest
		e.Process(ev(fmt.Sprint("g", i), time.Duration(i)*time.Minute, event.ActionRoleGrant, "admin"))
	}
	e.Process(ev("other", 30*time.Second, event.ActionRoleGrant, "someone-else"))
	e.Flush()
	got := rec.byRule("burst")
	if len(got) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(got), got)
	}
	a := got[0]
	if a.Count != 7 || !a.First.Equal(t0) || !a.Last.Equal(t0.Add(6*time.Minute)) || a.Key != "acme|admin" {
		t.Errorf("alert %+v", a)
	}
	if !slices.Equal(a.Events, []string{"g0", "g1", "g2", "g3"}) {
		t.Errorf("event ids %v, want the first 4", a.Events)
	}
	// The texts are rendered when the alert opens, and again, final, when
	// it resolves.
	if a.Title != "Burst by admin" || a.Summary != "7 grants" || a.Severity != "high" {
		t.Errorf("title %q summary %q", a.Title, a.Summary)
	}
	if len(rec.opened) != 1 || rec.opened[0].Count != 3 || rec.opened[0].Summary != "3 grants" {
		t.Errorf("opened %+v, want one at count 3", rec.opened)
	}
}

func TestWindowSlides(t *testing.T) {
	e, rec, _ := newEngine(t, DefaultConfig())
	// 2 grants, 11 minutes apart from the third: never 3 within 10 minutes.
	for i, at := range []time.Duration{0, 5 * time.Minute, 16 * time.Minute, 27 * time.Minute} {
		e.Process(ev(fmt.Sprint("g", i), at, event.ActionRoleGrant, "admin"))
	}
	e.Flush()
	if n := len(rec.byRule("burst")); n != 0 {
		t.Errorf("%d alerts, want 0", n)
	}
}

func TestPerTenantOverride(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Overrides = map[string]map[string]Override{"acme": {"burst": {Count: 10}}}
	e, rec, _ := newEngine(t, cfg)
	for i := 0; i < 5; i++ {
		e.Process(ev(fmt.Sprint("g", i), time.Duration(i)*time.Second, event.ActionRoleGrant, "admin"))
	}
	e.Flush()
	if n := len(rec.byRule("burst")); n != 0 {
		t.Errorf("%d alerts with the tenant's threshold of 10, want 0", n)
	}
}

func TestSimpleRuleAndDedupKey(t *testing.T) {
	e, rec, _ := newEngine(t, DefaultConfig())
	e.Process(ev("d1", 0, event.ActionUserDelete, "a1"))
	e.Process(ev("d2", time.Minute, event.ActionUserDelete, "a1"))
	e.Process(ev("d3", 2*time.Minute, event.ActionUserDelete, "a2"))
	e.Process(ev("d4", 2*time.Hour, event.ActionUserDelete, "a1")) // past the 1 h period: a new alert
	e.Flush()
	if n := len(rec.byRule("each-delete")); n != 4 {
		t.Errorf("each-delete: %d alerts, want one per event", n)
	}
	var counts []int
	for _, a := range rec.byRule("deletes-by-actor") {
		counts = append(counts, a.Count)
	}
	slices.Sort(counts)
	if !slices.Equal(counts, []int{1, 1, 2}) {
		t.Errorf("deletes-by-actor counts %v, want [1 1 2]", counts)
	}
}

func TestSequence(t *testing.T) {
	e, rec, _ := newEngine(t, DefaultConfig())
	e.Process(ev("c1", 0, event.ActionUserCreate, "admin", "u1"))
	e.Process(ev("g0", 5*time.Minute, event.ActionRoleGrant, "admin", "u2")) // another user
	e.Process(ev("g1", 20*time.Minute, event.ActionRoleGrant, "admin", "u1"))
	e.Process(ev("c2", 3*time.Hour, event.ActionUserCreate, "admin", "u3"))
	e.Process(ev("g2", 5*time.Hour, event.ActionRoleGrant, "admin", "u3")) // too late
	e.Flush()
	got := rec.byRule("create-then-grant")
	if len(got) != 1 || !slices.Equal(got[0].Events, []string{"c1", "g1"}) || got[0].Key != "u1" {
		t.Fatalf("sequence alerts %+v", got)
	}
}

// TestCallerReusesItsEvent: a caller that scans each event into the same
// struct, reusing its targets' and changes' arrays (the ClickHouse reader
// of backtest and warm), gets what distinct events give: events held for
// the allowed lateness keep their own targets.
func TestCallerReusesItsEvent(t *testing.T) {
	e, rec, _ := newEngine(t, DefaultConfig())
	var scratch event.Event
	for _, src := range []*event.Event{
		ev("c1", 0, event.ActionUserCreate, "admin", "u1"),
		ev("g0", 5*time.Minute, event.ActionRoleGrant, "admin", "u2"),
		ev("g1", 20*time.Minute, event.ActionRoleGrant, "admin", "u1"),
	} {
		targets := append(scratch.Targets[:0], src.Targets...)
		scratch = *src
		scratch.Targets = targets
		if err := e.Process(&scratch); err != nil {
			t.Fatal(err)
		}
	}
	e.Flush()
	got := rec.byRule("create-then-grant")
	if len(got) != 1 || !slices.Equal(got[0].Events, []string{"c1", "g1"}) || got[0].Key != "u1" {
		t.Fatalf("sequence alerts %+v", got)
	}
}

// TestLateness: events out of order within the allowed lateness are
// evaluated in time order; later ones are evaluated at once and counted.
func TestLateness(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AllowedLateness = 10 * time.Minute
	e, rec, reg := newEngine(t, cfg)
	// The grant arrives before the create, 5 minutes late: still a sequence.
	e.Process(ev("g1", 20*time.Minute, event.ActionRoleGrant, "admin", "u1"))
	e.Process(ev("c1", 15*time.Minute, event.ActionUserCreate, "admin", "u1"))
	e.Process(ev("x", 60*time.Minute, "other", "x"))                     // watermark moves: both are evaluated
	e.Process(ev("late", 10*time.Minute, event.ActionRoleGrant, "late")) // older than the last evaluated
	e.Flush()
	if n := len(rec.byRule("create-then-grant")); n != 1 {
		t.Errorf("%d sequence alerts, want 1 (events reordered)", n)
	}
	if got := testutil.ToFloat64(e.metrics.late); got != 1 {
		t.Errorf("late events %v, want 1", got)
	}
	_ = reg
}

func TestEviction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys = 2
	e, rec, _ := newEngine(t, cfg)
	for i, actor := range []string{"a", "b", "c"} { // three groups, room for two
		e.Process(ev(fmt.Sprint(actor, 1), time.Duration(i)*time.Second, event.ActionRoleGrant, actor))
	}
	for i, actor := range []string{"a", "a", "c", "c"} { // a was evicted: its first grant is gone
		e.Process(ev(fmt.Sprint(actor, i+2), time.Duration(10+i)*time.Second, event.ActionRoleGrant, actor))
	}
	e.Flush()
	if got := testutil.ToFloat64(e.metrics.evictions.WithLabelValues("burst", "window")); got < 1 {
		t.Errorf("evictions %v", got)
	}
	var keys []string
	for _, a := range rec.byRule("burst") {
		keys = append(keys, a.Key)
	}
	if !slices.Equal(keys, []string{"acme|c"}) {
		t.Errorf("alerts for %v, want only c (a lost its first grant to eviction)", keys)
	}
}

func TestActionIndex(t *testing.T) {
	e, _, _ := newEngine(t, DefaultConfig())
	if n := len(e.ordered.byAction[event.ActionRoleGrant]); n != 2 { // burst and the sequence
		t.Errorf("%d ordered rules indexed under role.grant, want 2", n)
	}
	if len(e.immediate.anyAction) != 1 || e.immediate.anyAction[0].rule.ID != "anything-failed" {
		t.Errorf("rules for any action: %v", e.immediate.anyAction)
	}
	if e.immediate.has(event.ActionUserLogin) != true || e.ordered.has(event.ActionUserLogin) {
		t.Error("a windowed rule is indexed under user.login")
	}
}

// TestReloadKeepsState: a rule kept by id keeps its window across SetRules.
func TestReloadKeepsState(t *testing.T) {
	e, rec, _ := newEngine(t, DefaultConfig())
	e.Process(ev("g1", 0, event.ActionRoleGrant, "admin"))
	e.Process(ev("g2", time.Second, event.ActionRoleGrant, "admin"))
	set, err := rules.Load(rules.Options{}, "testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetRules(set); err != nil {
		t.Fatal(err)
	}
	e.Process(ev("g3", 2*time.Second, event.ActionRoleGrant, "admin"))
	e.Flush()
	if n := len(rec.byRule("burst")); n != 1 {
		t.Errorf("%d alerts after reload, want 1: the window survived", n)
	}
}

// TestIdleStateIsSwept: windows and sequences that can no longer fire are
// dropped as event time moves on.
func TestIdleStateIsSwept(t *testing.T) {
	e, _, _ := newEngine(t, DefaultConfig())
	for i := 0; i < 50; i++ {
		e.Process(ev(fmt.Sprint("g", i), time.Duration(i)*time.Second, event.ActionRoleGrant, fmt.Sprint("actor-", i)))
		e.Process(ev(fmt.Sprint("c", i), time.Duration(i)*time.Second, event.ActionUserCreate, "admin", fmt.Sprint("u", i)))
	}
	e.Flush()
	if e.states["burst"].windows.len() != 50 || e.states["create-then-grant"].seqs.len() != 50 {
		t.Fatalf("windows %d, sequences %d before the sweep", e.states["burst"].windows.len(), e.states["create-then-grant"].seqs.len())
	}
	e.Process(ev("later", 3*time.Hour, event.ActionUserLogin, "x"))
	e.Flush()
	if e.states["burst"].windows.len() != 0 || e.states["create-then-grant"].seqs.len() != 0 {
		t.Errorf("windows %d, sequences %d after 3 hours", e.states["burst"].windows.len(), e.states["create-then-grant"].seqs.len())
	}
}
