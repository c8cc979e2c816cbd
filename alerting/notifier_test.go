package alerting

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/internal/testenv"
)

var t0 = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)

// fakeReceiver records what it is asked to deliver; fail makes it fail.
type fakeReceiver struct {
	name   string
	resend time.Duration
	mu     sync.Mutex
	got    []*Notification
	lasts  []Delivery
	fail   error
	calls  int
}

func (f *fakeReceiver) Name() string          { return f.name }
func (f *fakeReceiver) Resend() time.Duration { return f.resend }
func (f *fakeReceiver) Notify(_ context.Context, n *Notification, last Delivery, record func(Delivery) error) (Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return Delivery{}, f.fail
	}
	f.got = append(f.got, n)
	f.lasts = append(f.lasts, last)
	ref := last.Ref
	if ref == "" {
		ref = fmt.Sprintf("msg-%d", len(f.got))
	}
	return Delivery{Ref: ref, Shown: n.Status()}, nil
}

func (f *fakeReceiver) notifications() []*Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Notification(nil), f.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 20*time.Second, cond)
}

type harness struct {
	n     *Notifier
	store *MemoryStore
	recv  *fakeReceiver
	reg   *prometheus.Registry
	stop  func()
}

func start(t *testing.T, cfg Config, store *MemoryStore) *harness {
	t.Helper()
	if store == nil {
		store = NewMemoryStore()
	}
	h := &harness{store: store, recv: &fakeReceiver{name: "fake"}, reg: prometheus.NewRegistry()}
	n, err := New(cfg, store, []Receiver{h.recv}, h.reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.n = n
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	h.stop = func() { cancel(); <-done }
	t.Cleanup(h.stop)
	waitFor(t, "the notifier to load", n.Ready)
	return h
}

func fast() Config {
	cfg := DefaultConfig()
	cfg.GroupWait, cfg.GroupInterval = 0, 0
	return cfg
}

func alert(id, rule, severity, actor string, count int, status string) detect.Alert {
	return detect.Alert{ID: id, Rule: rule, Severity: severity, Tenant: "acme", Key: "acme|" + actor, Status: status,
		Final: status == detect.StatusResolved, Count: count, First: t0, Last: t0.Add(time.Duration(count) * time.Second),
		Events: []string{"e1"}, Title: fmt.Sprintf("%s by %s (%d)", rule, actor, count), Actor: actor, Targets: []string{"user: u1"},
		Observed: time.Now()}
}

// TestDedupAndResolutionEditOneNotification: the repeats of an alert and
// its resolution update one notification, not new ones.
func TestDedupAndResolutionEditOneNotification(t *testing.T) {
	h := start(t, fast(), nil)
	must(t, h.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 20, detect.StatusFiring)))
	waitFor(t, "the first notification", func() bool { return len(h.recv.notifications()) == 1 })
	must(t, h.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 20, detect.StatusFiring))) // no change: nothing new
	must(t, h.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 35, detect.StatusResolved)))
	waitFor(t, "the resolved update", func() bool {
		ns := h.recv.notifications()
		return len(ns) >= 2 && ns[len(ns)-1].Status() == StatusResolved
	})
	ns := h.recv.notifications()
	if len(ns) != 2 || ns[0].ID != ns[1].ID || ns[1].Alerts[0].Count != 35 || h.recv.lasts[1].Ref != "msg-1" {
		t.Fatalf("notifications %d (%+v), want 2 of one notification, the second with count 35 and the first's message", len(ns), h.recv.lasts)
	}
	var statuses []string
	for _, c := range h.store.Changes() {
		statuses = append(statuses, c.Status+" by "+c.By)
	}
	if strings.Join(statuses, ",") != "firing by detect,resolved by detect" {
		t.Errorf("history %v", statuses)
	}
}

// TestReplayedAlertsAddNothing: a detector re-reading a window after a
// restart hands the same alerts over again, from their opening state to
// their resolution: the notifier changes nothing and notifies nothing; a
// later event still counts, and a resolution with fewer events counted
// (the detector saw only part of them) still resolves, keeping the count.
func TestReplayedAlertsAddNothing(t *testing.T) {
	h := start(t, fast(), nil)
	must(t, h.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 20, detect.StatusFiring)))
	waitFor(t, "the first notification", func() bool { return len(h.recv.notifications()) == 1 })
	must(t, h.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 35, detect.StatusResolved)))
	waitFor(t, "the resolved update", func() bool {
		ns := h.recv.notifications()
		return len(ns) == 2 && ns[1].Status() == StatusResolved
	})
	before := len(h.store.Changes())
	// The replay: the opening state again, then the resolution again.
	must(t, h.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 20, detect.StatusFiring)))
	must(t, h.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 35, detect.StatusResolved)))
	time.Sleep(50 * time.Millisecond)
	if n := len(h.recv.notifications()); n != 2 || len(h.store.Changes()) != before {
		t.Fatalf("%d notifications, %d changes after the replay: want nothing new", n, len(h.store.Changes())-before)
	}
	// An open alert, resolved by a detector that saw only part of it.
	must(t, h.n.Alert(alert("a2", "bulk-role-change", "high", "eve", 30, detect.StatusFiring)))
	must(t, h.n.Alert(alert("a2", "bulk-role-change", "high", "eve", 21, detect.StatusResolved)))
	waitFor(t, "a2 resolved", func() bool {
		for _, n := range h.recv.notifications() {
			if n.Status() == StatusResolved && n.Alerts[0].ID == "a2" {
				return n.Alerts[0].Count == 30
			}
		}
		return false
	})
}

// TestGrouping: alerts of one rule and tenant within group_wait go out as
// one notification; a critical one does not wait.
func TestGrouping(t *testing.T) {
	cfg := fast()
	cfg.GroupWait = time.Hour // nothing but critical goes out during the test
	h := start(t, cfg, nil)
	must(t, h.n.Alert(alert("g1", "privileged-role-grant", "high", "a", 1, detect.StatusFiring)))
	must(t, h.n.Alert(alert("g2", "privileged-role-grant", "high", "b", 1, detect.StatusFiring)))
	must(t, h.n.Alert(alert("c1", "self-privilege-grant", "critical", "c", 1, detect.StatusFiring)))
	waitFor(t, "the critical notification", func() bool { return len(h.recv.notifications()) == 1 })
	if n := h.recv.notifications()[0]; n.Alerts[0].ID != "c1" {
		t.Fatalf("first notification %+v, want the critical one", n.Alerts)
	}
	h.n.mu.Lock()
	var grouped *group
	for _, g := range h.n.groups {
		if g.key == "rule=privileged-role-grant,tenant=acme" {
			grouped = g
		}
	}
	due := h.n.dueAt(h.recv, grouped, time.Now())
	h.n.mu.Unlock()
	if grouped == nil || len(grouped.alerts) != 2 || due.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("group %+v due %v: want the two grants together, due after group_wait", grouped, due)
	}
}

// TestInhibitionAndSilences: a bulk change by an actor inhibits that
// actor's privileged grants; a silence mutes what it matches; neither is
// notified, both are stored with why.
func TestInhibitionAndSilences(t *testing.T) {
	cfg := fast()
	cfg.Inhibit = []InhibitRule{{Source: Matchers{"rule": "bulk-role-change"}, Target: Matchers{"rule": "privileged-role-grant"}, Equal: []string{"tenant", "actor"}}}
	h := start(t, cfg, nil)
	s, err := NewSilence(Matchers{"actor": "svc-*"}, t0, time.Now().Add(time.Hour), "alice", "planned migration", time.Now(), false)
	must(t, err)
	must(t, h.n.AddSilence(context.Background(), s))
	must(t, h.n.Alert(alert("b1", "bulk-role-change", "high", "mallory", 20, detect.StatusFiring)))
	must(t, h.n.Alert(alert("p1", "privileged-role-grant", "high", "mallory", 1, detect.StatusFiring)))  // inhibited
	must(t, h.n.Alert(alert("p2", "privileged-role-grant", "high", "bob", 1, detect.StatusFiring)))      // another actor
	must(t, h.n.Alert(alert("s1", "privileged-role-grant", "high", "svc-sync", 1, detect.StatusFiring))) // silenced
	waitFor(t, "two notifications", func() bool { return len(h.recv.notifications()) >= 2 })
	for _, n := range h.recv.notifications() {
		for _, a := range n.Alerts {
			if a.ID == "p1" || a.ID == "s1" {
				t.Errorf("%s was notified", a.ID)
			}
		}
	}
	by := map[string]string{}
	for _, c := range h.store.Changes() {
		by[c.AlertID] = c.Status + " by " + c.By
	}
	if by["p1"] != "silenced by inhibited by b1" || by["s1"] != "silenced by silence "+s.ID || by["p2"] != "firing by detect" {
		t.Errorf("changes %v", by)
	}
}

// TestActions: acknowledge, false positive and silence from Slack change
// the alerts, say who did it, count false positives by rule, and go out at
// once.
func TestActions(t *testing.T) {
	h := start(t, fast(), nil)
	must(t, h.n.Alert(alert("a1", "privileged-role-grant", "high", "mallory", 1, detect.StatusFiring)))
	waitFor(t, "the notification", func() bool { return len(h.recv.notifications()) == 1 })
	id := h.recv.notifications()[0].ID
	must(t, h.n.Act(context.Background(), Action{Kind: ActAck, GroupID: id, By: "U123 alice"}))
	waitFor(t, "the acknowledged update", func() bool {
		ns := h.recv.notifications()
		return len(ns) == 2 && ns[1].Alerts[0].Status == StatusAcknowledged && ns[1].Alerts[0].StatusBy == "U123 alice"
	})
	must(t, h.n.Act(context.Background(), Action{Kind: ActFalsePositive, GroupID: id, By: "U123 alice"}))
	waitFor(t, "the false positive update", func() bool {
		ns := h.recv.notifications()
		return len(ns) == 3 && ns[2].Status() == StatusFalsePositive
	})
	if got := testutil.ToFloat64(h.n.metrics.falsePositives.WithLabelValues("privileged-role-grant")); got != 1 {
		t.Errorf("false positives %v", got)
	}
	must(t, h.n.Alert(alert("a2", "credential-created", "medium", "eve", 1, detect.StatusFiring)))
	waitFor(t, "the second notification", func() bool { return len(h.recv.notifications()) == 4 })
	must(t, h.n.Act(context.Background(), Action{Kind: ActSilence, GroupID: h.recv.notifications()[3].ID, By: "U9 bob"}))
	sil, _ := h.store.LoadSilences(context.Background())
	if len(sil) != 1 || sil[0].Matchers["actor"] != "eve" || sil[0].End.Sub(sil[0].Start) != 24*time.Hour || sil[0].Author != "U9 bob" {
		t.Fatalf("silences %+v", sil)
	}
	must(t, h.n.Alert(alert("a3", "credential-created", "medium", "eve", 1, detect.StatusFiring)))
	last := h.store.Changes()
	if c := last[len(last)-1]; c.AlertID != "a3" || c.Status != StatusSilenced {
		t.Errorf("eve's next alert: %+v, want silenced", c)
	}
}

// TestStoreFirst: an alert the store does not take is not accepted, so
// that the detector keeps it; nothing is notified of it.
func TestStoreFirst(t *testing.T) {
	store := NewMemoryStore()
	h := start(t, fast(), store)
	store.mu.Lock()
	store.Fail = errors.New("clickhouse is down")
	store.mu.Unlock()
	if err := h.n.Alert(alert("a1", "r", "high", "x", 1, detect.StatusFiring)); err == nil || !strings.Contains(err.Error(), "clickhouse is down") {
		t.Fatalf("Alert: %v", err)
	}
	store.mu.Lock()
	store.Fail = nil
	store.mu.Unlock()
	must(t, h.n.Alert(alert("a1", "r", "high", "x", 1, detect.StatusFiring)))
	waitFor(t, "the notification", func() bool { return len(h.recv.notifications()) == 1 })
}

// TestRestartEditsTheSameNotification: after a restart, the stored
// notification log says the alert was delivered and where: its resolution
// edits that message, and nothing is delivered twice.
func TestRestartEditsTheSameNotification(t *testing.T) {
	store := NewMemoryStore()
	h := start(t, fast(), store)
	must(t, h.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 20, detect.StatusFiring)))
	waitFor(t, "the notification", func() bool { return len(h.recv.notifications()) == 1 })
	h.stop()

	h2 := start(t, fast(), store)
	time.Sleep(50 * time.Millisecond) // give a wrong redelivery the chance to happen
	if n := len(h2.recv.notifications()); n != 0 {
		t.Fatalf("%d notifications after the restart, want none: it was delivered", n)
	}
	must(t, h2.n.Alert(alert("a1", "bulk-role-change", "high", "mallory", 31, detect.StatusResolved)))
	waitFor(t, "the resolution", func() bool { return len(h2.recv.notifications()) == 1 })
	if last := h2.recv.lasts[0]; last.Ref != "msg-1" || last.Version == 0 {
		t.Errorf("the resolution was delivered as %+v, want an update of msg-1", last)
	}
}

// TestRetryHonoursRetryAfter: a failed delivery is tried again, not before
// the receiver's Retry-After, and never dropped.
func TestRetryHonoursRetryAfter(t *testing.T) {
	h := start(t, fast(), nil)
	h.recv.mu.Lock()
	h.recv.fail = &RetryError{Err: errors.New("rate limited"), After: 42 * time.Second}
	h.recv.mu.Unlock()
	must(t, h.n.Alert(alert("a1", "r", "high", "x", 1, detect.StatusFiring)))
	waitFor(t, "a failed attempt", func() bool { h.recv.mu.Lock(); defer h.recv.mu.Unlock(); return h.recv.calls > 0 })
	waitFor(t, "the failure to be counted", func() bool {
		return testutil.ToFloat64(h.n.metrics.notifications.WithLabelValues("fake", "failed")) == 1
	})
	h.n.mu.Lock()
	var g *group
	for _, x := range h.n.groups {
		g = x
	}
	next := g.next["fake"]
	h.n.mu.Unlock()
	if wait := time.Until(next); wait < 40*time.Second || wait > 43*time.Second {
		t.Errorf("next attempt in %v, want the 42 s the receiver asked", wait)
	}
}

// TestRepeatAndResendAreDue: a firing notification nobody acknowledged is
// due again after repeat_interval; a receiver that needs resending (Alertmanager)
// after its resend interval.
func TestRepeatAndResendAreDue(t *testing.T) {
	cfg := fast()
	n, err := New(cfg, NewMemoryStore(), nil, prometheus.NewRegistry(), nil, nil)
	must(t, err)
	a := &Alert{ID: "a", Status: StatusFiring, Version: 1}
	g := &group{id: "g", alerts: []*Alert{a}, version: 1}
	sent := time.Now()
	slack, am := &fakeReceiver{name: "slack"}, &fakeReceiver{name: "am", resend: time.Minute}
	n.deliveries["slack\x00g"] = Delivery{Version: 1, Sent: sent}
	n.deliveries["am\x00g"] = Delivery{Version: 1, Sent: sent}
	if due := n.dueAt(slack, g, sent); !due.Equal(sent.Add(cfg.RepeatInterval)) {
		t.Errorf("slack due %v, want repeat_interval after the last send", due)
	}
	if due := n.dueAt(am, g, sent); !due.Equal(sent.Add(time.Minute)) {
		t.Errorf("alertmanager due %v, want its resend interval", due)
	}
	a.Status = StatusAcknowledged
	if due := n.dueAt(slack, g, sent); !due.Equal(never) {
		t.Errorf("acknowledged: slack due %v, want never", due)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAlertFloodStaysBounded: a flood of distinct alerts (and of alerts an
// inhibition mutes) keeps at most max_open_alerts in memory, and checking
// inhibition does not walk every open alert.
func TestAlertFloodStaysBounded(t *testing.T) {
	cfg := fast()
	cfg.MaxOpen = 1000
	cfg.GroupWait = time.Hour // nothing is delivered: memory only
	h := start(t, cfg, nil)
	for i := 0; i < 5000; i++ {
		actor := fmt.Sprint("actor-", i)
		must(t, h.n.Alert(alert("b"+actor, "bulk-role-change", "high", actor, 20, detect.StatusFiring)))
		must(t, h.n.Alert(alert("p"+actor, "privileged-role-grant", "high", actor, 1, detect.StatusFiring))) // inhibited
	}
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	if len(h.n.alerts) > 1000 || len(h.n.groups) > 1000 {
		t.Errorf("%d alerts and %d notifications in memory, want at most 1000", len(h.n.alerts), len(h.n.groups))
	}
	indexed := 0
	for _, m := range h.n.inhibit.by[0] {
		indexed += len(m)
	}
	if indexed > 1000 {
		t.Errorf("%d inhibiting alerts indexed, more than the alerts held", indexed)
	}
	if got := testutil.ToFloat64(h.n.metrics.dropped); got == 0 {
		t.Error("no notification counted as dropped from memory")
	}
}

// TestSilenceFromAnAlertIsLiteral: "Silence 24 h for this actor" made from
// an alert whose actor is named "*" once silenced every actor of the
// tenant, and a later critical grant by someone else was stored as
// silenced and never posted. The silence now matches that actor's name
// literally. For a scheduled rule's finding, whose actor is the rule, it
// silences that finding (rule and key), not the rule.
func TestSilenceFromAnAlertIsLiteral(t *testing.T) {
	h := start(t, fast(), nil)
	silence := func(a detect.Alert) {
		t.Helper()
		must(t, h.n.Alert(a))
		var id string
		waitFor(t, "the notification of "+a.ID, func() bool {
			for _, n := range h.recv.notifications() {
				if n.Alerts[0].ID == a.ID {
					id = n.ID
				}
			}
			return id != ""
		})
		must(t, h.n.Act(context.Background(), Action{Kind: ActSilence, GroupID: id, By: "U9 bob"}))
	}
	status := func(id string) string {
		var s string
		for _, c := range h.store.Changes() {
			if c.AlertID == id {
				s = c.Status
			}
		}
		return s
	}
	silence(alert("star", "credential-created", "medium", "*", 1, detect.StatusFiring))
	silence(alert("pattern", "scim-token-new-client", "medium", "svc-[a-z]*", 1, detect.StatusFiring))
	stale := alert("stale-u1", "stale-account", "low", detect.ScheduledActor("stale-account"), 1, detect.StatusFiring)
	stale.Key = "u1"
	silence(stale)

	must(t, h.n.Alert(alert("grant", "self-privilege-grant", "critical", "mallory", 1, detect.StatusFiring)))
	must(t, h.n.Alert(alert("svc", "scim-token-new-client", "medium", "svc-sync", 1, detect.StatusFiring)))
	other := alert("stale-u2", "stale-account", "low", detect.ScheduledActor("stale-account"), 1, detect.StatusFiring)
	other.Key = "u2"
	must(t, h.n.Alert(other))
	again := alert("star-again", "credential-created", "medium", "*", 2, detect.StatusFiring)
	must(t, h.n.Alert(again))
	sameKey := alert("stale-u1-again", "stale-account", "low", detect.ScheduledActor("stale-account"), 1, detect.StatusFiring)
	sameKey.Key, sameKey.First = "u1", t0.Add(time.Hour)
	must(t, h.n.Alert(sameKey))
	for id, want := range map[string]string{"grant": StatusFiring, "svc": StatusFiring, "stale-u2": StatusFiring,
		"star-again": StatusSilenced, "stale-u1-again": StatusSilenced} {
		if got := status(id); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
}

// TestBroadSilencesAreExplicit: a silence matching every alert of a
// tenant is refused unless asked for as broad; one stored without the
// flag (by an older version) is not applied.
func TestBroadSilencesAreExplicit(t *testing.T) {
	now := time.Now()
	for _, m := range []Matchers{{"tenant": "acme"}, {"tenant": "acme", "actor": "*"}, {"actor": "**", "severity": "critical"}, {"rule": "*", "key": "*"}} {
		if _, err := NewSilence(m, now, now.Add(time.Hour), "alice", "why", now, false); err == nil || !strings.Contains(err.Error(), "matches every alert") {
			t.Errorf("%v: %v, want refused", m, err)
		}
		s, err := NewSilence(m, now, now.Add(time.Hour), "alice", "why", now, true)
		if err != nil || !s.Broad {
			t.Errorf("%v asked for as broad: %+v, %v", m, s, err)
		}
	}
	for _, m := range []Matchers{{"tenant": "acme", "actor": `\*`}, {"rule": "bulk-*"}, {"target": "user: eve@acme.com"}} {
		if _, err := NewSilence(m, now, now.Add(time.Hour), "alice", "why", now, false); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
	old := Silence{ID: "old", Matchers: Matchers{"tenant": "acme", "actor": "*"}, Start: now.Add(-time.Hour), End: now.Add(time.Hour)}
	a := &Alert{Tenant: "acme", Actor: "mallory", Rule: "self-privilege-grant"}
	if s := silencedBy([]Silence{old}, a, now); s != nil {
		t.Errorf("a broad silence stored without the flag silenced %+v", a)
	}
	old.Broad = true
	if s := silencedBy([]Silence{old}, a, now); s == nil {
		t.Error("a broad silence asked for as such did not apply")
	}
}
