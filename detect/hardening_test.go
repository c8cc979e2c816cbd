package detect

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// fakeClock is a wall clock a test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSequenceNewerStartCompletes: a sequence is not anchored on its first
// start: create at 0, create at 50 min, grant at 70 min fits the hour from
// the second create.
func TestSequenceNewerStartCompletes(t *testing.T) {
	e, rec, _ := newEngine(t, DefaultConfig())
	e.Process(ev("c1", 0, event.ActionUserCreate, "admin", "u1"))
	e.Process(ev("c2", 50*time.Minute, event.ActionUserCreate, "admin", "u1"))
	e.Process(ev("g1", 70*time.Minute, event.ActionRoleGrant, "admin", "u1"))
	e.Flush()
	got := rec.byRule("create-then-grant")
	if len(got) != 1 || !slices.Equal(got[0].Events, []string{"c2", "g1"}) || !got[0].First.Equal(t0.Add(50*time.Minute)) {
		t.Fatalf("alerts %+v, want one from c2 to g1", got)
	}
}

// TestSequenceStateIsBounded: however many starts a key sees, it keeps one
// partial match per step.
func TestSequenceStateIsBounded(t *testing.T) {
	e, rec, _ := newEngine(t, DefaultConfig())
	for i := 0; i < 1000; i++ {
		e.Process(ev(fmt.Sprint("c", i), time.Duration(i)*time.Second, event.ActionUserCreate, "admin", "u1"))
	}
	st, _ := e.states["create-then-grant"].seqs.peek("u1")
	e.Process(ev("g", 1000*time.Second, event.ActionRoleGrant, "admin", "u1"))
	e.Flush()
	if st == nil || len(st.partial) != 1 || len(st.partial[0].ids) != 1 {
		t.Fatalf("state %+v, want one partial match of one event", st)
	}
	if got := rec.byRule("create-then-grant"); len(got) != 1 || got[0].Events[0] != "c999" {
		t.Errorf("alerts %+v, want one from the latest create", got)
	}
}

// TestFutureEventKeepsOrdering: one event dated a year ahead must not move
// event time: a create and a grant delivered grant-first, within the
// allowed lateness, still make the sequence. Nor must one whose own time
// was outside the sane range, which the limits placed at its receipt (a
// replay of old records receives them now).
func TestFutureEventKeepsOrdering(t *testing.T) {
	for _, tc := range []struct {
		name  string
		apply func(ev *event.Event, wall time.Time)
	}{
		{"a year ahead", func(ev *event.Event, wall time.Time) { ev.Time = wall.AddDate(1, 0, 0) }},
		{"year 9999, placed at its receipt", func(ev *event.Event, wall time.Time) {
			ev.Time, ev.Trimmed.Time = wall, "9999-12-31T23:59:59Z"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.AllowedLateness = 10 * time.Minute
			e, rec, _ := newEngine(t, cfg)
			wall := e.now()
			future := ev("future", 0, event.ActionRoleGrant, "clock-liar", "u9")
			tc.apply(future, wall)
			e.Process(future)
			e.Process(ev("g1", 20*time.Minute, event.ActionRoleGrant, "admin", "u1"))
			e.Process(ev("c1", 15*time.Minute, event.ActionUserCreate, "admin", "u1"))
			e.Process(ev("x", 60*time.Minute, event.ActionUserCreate, "x", "x"))
			e.Flush()
			if n := len(rec.byRule("create-then-grant")); n != 1 {
				t.Errorf("%d create-then-grant alerts, want 1", n)
			}
			if got := testutil.ToFloat64(e.metrics.future); got != 1 {
				t.Errorf("future events %v, want 1", got)
			}
			if got := testutil.ToFloat64(e.metrics.late); got != 0 {
				t.Errorf("late events %v, want 0", got)
			}
			if !e.clock.watermark.Before(wall) {
				t.Errorf("watermark %v moved past the wall clock %v", e.clock.watermark, wall)
			}
		})
	}
}

// TestSimpleRuleAlertsAtOnce: a simple rule's alert is handed over when its
// event is processed, not when later events move event time on.
func TestSimpleRuleAlertsAtOnce(t *testing.T) {
	e, rec, _ := newEngine(t, DefaultConfig())
	if err := e.Process(ev("d1", 0, event.ActionUserDelete, "a1")); err != nil {
		t.Fatal(err)
	}
	if got := rec.byRule("each-delete"); len(got) != 1 || got[0].Status != StatusFiring || !got[0].Final {
		t.Fatalf("alerts %+v, want one, final, at once", got)
	}
	rec.mu.Lock()
	opened := len(rec.opened)
	rec.mu.Unlock()
	if opened != 2 { // each-delete and deletes-by-actor's opening
		t.Errorf("%d alerts opened, want 2", opened)
	}
}

// TestQuietStreamAdvancesWithTheWallClock: held events are evaluated, and
// open alerts resolve, as wall-clock time passes on a stream with no newer
// event.
func TestQuietStreamAdvancesWithTheWallClock(t *testing.T) {
	clk := &fakeClock{t: t0.Add(time.Minute)}
	cfg := DefaultConfig()
	cfg.Now = clk.now
	e, rec, _ := newEngine(t, cfg)
	e.Process(ev("c1", 0, event.ActionUserCreate, "admin", "u1"))
	e.Process(ev("g1", 30*time.Second, event.ActionRoleGrant, "admin", "u1"))
	if err := e.Tick(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.byRule("create-then-grant")); n != 0 {
		t.Fatalf("%d alerts before the lateness passed", n)
	}
	clk.add(61 * time.Second)
	if err := e.Tick(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.byRule("create-then-grant")); n != 1 {
		t.Fatalf("%d alerts once a minute of wall-clock time passed, want 1", n)
	}
	// The dedup alert of deletes-by-actor (period 1h) resolves an hour later.
	e.Process(ev("d1", 2*time.Minute, event.ActionUserDelete, "a1"))
	if err := e.Tick(); err != nil { // the tick after the event
		t.Fatal(err)
	}
	clk.add(62 * time.Minute)
	if err := e.Tick(); err != nil {
		t.Fatal(err)
	}
	if got := rec.byRule("deletes-by-actor"); len(got) != 1 || got[0].Status != StatusResolved {
		t.Errorf("deletes-by-actor %+v, want resolved", got)
	}
}

// TestKeyFloodStaysBounded: a flood of distinct keys keeps max_keys keys
// per rule and kind, evicting the least recently used, each counted.
func TestKeyFloodStaysBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxKeys = 1000
	e, _, _ := newEngine(t, cfg)
	const n = 50000
	for i := 0; i < n; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		e.Process(ev(fmt.Sprint("g", i), at, event.ActionRoleGrant, fmt.Sprint("actor-", i), fmt.Sprint("u", i)))
		e.Process(ev(fmt.Sprint("c", i), at, event.ActionUserCreate, "admin", fmt.Sprint("u", i)))
		e.Process(ev(fmt.Sprint("d", i), at, event.ActionUserDelete, fmt.Sprint("actor-", i)))
	}
	rs := e.states["burst"]
	if rs.windows.len() > 1000 || e.states["create-then-grant"].seqs.len() > 1000 || e.states["deletes-by-actor"].open.len() > 1000 {
		t.Errorf("windows %d, sequences %d, open alerts %d: more than max_keys", rs.windows.len(), e.states["create-then-grant"].seqs.len(), e.states["deletes-by-actor"].open.len())
	}
	if len(e.closing) > 1000 {
		t.Errorf("%d alerts waiting to close, more than max_keys", len(e.closing))
	}
	for _, k := range []struct{ rule, kind string }{{"burst", "window"}, {"create-then-grant", "sequence"}, {"deletes-by-actor", "dedup"}} {
		// All but the last minute (held for lateness) was evaluated.
		if got := testutil.ToFloat64(e.metrics.evictions.WithLabelValues(k.rule, k.kind)); got < n-1000-6000 {
			t.Errorf("%s %s evictions %v, want about %d", k.rule, k.kind, got, n-1000-6000)
		}
	}
}

// TestDistinctIsBoundedPerKey: a window counting distinct values keeps one
// entry per value, however often values repeat.
func TestDistinctIsBoundedPerKey(t *testing.T) {
	dir := t.TempDir()
	src := "rules:\n  - id: users\n    title: T\n    severity: low\n    when: action == \"user.delete\"\n" +
		"    threshold: {count: 5, window: 1h, group_by: [actor.id], distinct: 'find(targets, .type == \"user\")?.id ?? \"\"'}\n"
	cfg := DefaultConfig()
	cfg.AllowedLateness = 0
	e, rec := engineWith(t, cfg, dir, src)
	for i := 0; i < 10000; i++ {
		e.Process(ev(fmt.Sprint("d", i), time.Duration(i)*time.Millisecond, event.ActionUserDelete, "a1", fmt.Sprint("u", i%3)))
	}
	w, ok := e.states["users"].windows.peek("a1")
	if !ok || w.distinct.Len() != 3 || len(w.entries) != 0 {
		t.Fatalf("window %+v", w)
	}
	for i := 3; i < 5; i++ {
		e.Process(ev(fmt.Sprint("x", i), 20*time.Second, event.ActionUserDelete, "a1", fmt.Sprint("u", i)))
	}
	e.Flush()
	if got := rec.byRule("users"); len(got) != 1 || got[0].Count != 5 {
		t.Errorf("alerts %+v, want one of 5 distinct users", got)
	}
}

func engineWith(t *testing.T, cfg Config, dir, src string) (*Engine, *recorder) {
	t.Helper()
	p := dir + "/r.yaml"
	if err := writeString(p, src); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cfg.Now = func() time.Time { return t0.Add(48 * time.Hour) }
	e, err := New(cfg, set, rec, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, rec
}

// TestAlertsAreValuesDeliveredInOrder: the sink owns what it gets (changing
// it changes nothing in the engine), a refused alert is kept and handed
// over again before newer ones, and Process says it was refused.
func TestAlertsAreValuesDeliveredInOrder(t *testing.T) {
	set, err := rules.Load(rules.Options{}, "testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	fail := true
	sink := SinkFunc(func(a Alert) error {
		if fail {
			return errors.New("slack is down")
		}
		got = append(got, a.Rule+"/"+a.Status)
		a.Events[0] = "tampered"
		return nil
	})
	cfg := DefaultConfig()
	cfg.Now = func() time.Time { return t0.Add(48 * time.Hour) }
	e, err := New(cfg, set, sink, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Process(ev("d1", 0, event.ActionUserDelete, "a1")); err == nil || !strings.Contains(err.Error(), "slack is down") {
		t.Fatalf("Process: %v, want the sink's error", err)
	}
	fail = false
	if err := e.Process(ev("d2", time.Minute, event.ActionUserDelete, "a2")); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{"each-delete/firing", "deletes-by-actor/firing", "each-delete/firing", "deletes-by-actor/firing",
		"deletes-by-actor/resolved", "deletes-by-actor/resolved"}
	if !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	a, _ := e.states["deletes-by-actor"].open.peek("acme|a1")
	if a != nil {
		t.Errorf("resolved alert still open: %+v", a)
	}
	if testutil.ToFloat64(e.metrics.sinkErrors) != 1 {
		t.Errorf("sink errors %v", testutil.ToFloat64(e.metrics.sinkErrors))
	}
}

// TestOverridesMustNameThresholdRules: a typo in an override's rule id is a
// config error, not a silently ignored setting.
func TestOverridesMustNameThresholdRules(t *testing.T) {
	set, err := rules.Load(rules.Options{}, "testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Overrides = map[string]map[string]Override{"acme": {"brust": {Count: 5}, "each-delete": {Count: 2}, "burst": {Count: 4}}}
	_, err = New(cfg, set, SinkFunc(func(Alert) error { return nil }), prometheus.NewRegistry(), nil)
	if err == nil || !strings.Contains(err.Error(), `overrides.acme.brust: no rule has the id "brust"`) ||
		!strings.Contains(err.Error(), `overrides.acme.each-delete: rule "each-delete" has no threshold`) || strings.Contains(err.Error(), "overrides.acme.burst") {
		t.Fatalf("error %v", err)
	}
}

func writeString(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

// TestRefusingSinkIsRetriedWithBackoff: while the sink refuses alerts
// (alerting's store down), they are held and handed over again with
// backoff, not at every event read; the refusal is logged when it starts
// and when it ends, and DeliveryError says it meanwhile. It once tried the
// store once per event and logged each time: 35,173 lines in an outage.
func TestRefusingSinkIsRetriedWithBackoff(t *testing.T) {
	set, err := rules.Load(rules.Options{}, "testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	down, attempts, delivered := true, 0, 0
	sink := SinkFunc(func(a Alert) error {
		attempts++
		if down {
			return errors.New("alerting: storing alert: dial tcp 127.0.0.1:9000: connection refused")
		}
		delivered++
		return nil
	})
	now := t0
	cfg := DefaultConfig()
	cfg.Now = func() time.Time { return now }
	var logs strings.Builder
	e, err := New(cfg, set, sink, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// 5,000 deletes, one every 20 ms of wall time (100 s): each raises an
	// alert of each-delete.
	for i := range 5000 {
		e.Process(ev(fmt.Sprint("d", i), time.Duration(i)*time.Second, event.ActionUserDelete, fmt.Sprint("a", i)))
		now = now.Add(20 * time.Millisecond)
	}
	if attempts > 20 {
		t.Errorf("%d attempts to hand alerts over in 100 s of refusals, want a few (backoff)", attempts)
	}
	derr := e.DeliveryError()
	if derr == nil || !strings.Contains(derr.Error(), "connection refused") || !strings.Contains(derr.Error(), "held") {
		t.Errorf("DeliveryError while refused: %v", derr)
	}
	down = false
	now = now.Add(time.Minute)
	if err := e.Tick(); err != nil {
		t.Fatal(err)
	}
	if e.DeliveryError() != nil {
		t.Errorf("DeliveryError after recovery: %v", e.DeliveryError())
	}
	if delivered < 5000 {
		t.Errorf("%d alerts delivered after the sink came back, want every one of 5000", delivered)
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 || !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "handed over again") {
		t.Errorf("want one line when the refusals start and one when they end, got %d:\n%s", n, logs.String())
	}
}

// TestReadinessDoesNotWaitForAHangingSink: DeliveryError (/readyz) answers
// while a delivery waits on a sink that hangs (a store that takes its dial
// timeout), and events read meanwhile do not queue behind it once it has
// refused: they are held during the backoff.
func TestReadinessDoesNotWaitForAHangingSink(t *testing.T) {
	set, err := rules.Load(rules.Options{}, "testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	calls := make(chan struct{}, 100)
	sink := SinkFunc(func(Alert) error {
		calls <- struct{}{}
		<-release
		return errors.New("dial tcp: i/o timeout")
	})
	e, err := New(DefaultConfig(), set, sink, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	go e.Process(ev("d1", 0, event.ActionUserDelete, "a1"))
	<-calls // the delivery holds, waiting on the sink
	answered := make(chan error, 1)
	go func() { answered <- e.DeliveryError() }()
	select {
	case err := <-answered:
		if err != nil {
			t.Errorf("DeliveryError before any refusal: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("DeliveryError waited for the hanging sink")
	}
	close(release) // the attempt fails: backoff from now
	deadline := time.Now().Add(5 * time.Second)
	for e.DeliveryError() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the refusal was not recorded")
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { e.Process(ev("d2", time.Second, event.ActionUserDelete, "a2")); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("an event read during the backoff waited on the sink")
	}
}
