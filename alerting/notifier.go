package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
)

// ErrNotReady is returned by Alert until Run has loaded the stored state:
// the detector keeps the alert and hands it over again.
var ErrNotReady = errors.New("alerting: not ready (loading stored alerts)")

// Notifier is the detector's sink: it accepts alerts (storing them first),
// applies silences and inhibition, groups them, and delivers each group to
// every receiver, durably.
type Notifier struct {
	cfg       Config
	store     Store
	receivers []Receiver
	logger    *slog.Logger
	metrics   *metrics
	now       func() time.Time

	mu       sync.Mutex
	ready    bool
	draining bool
	alerts   map[string]*Alert // by tenant and id
	// finished remembers alerts forgotten once notified and closed, by
	// tenant and id, so that the same alert handed over again (a detector
	// re-reading a window after a restart) is known. Bounded by
	// max_open_alerts; entries expire after keep_for.
	finished   map[string]finishedAlert
	groups     map[string]*group // by id
	current    map[string]*group // the open group of each key
	silences   []Silence
	inhibit    *inhibitors
	deliveries map[string]Delivery // by receiver and group id
	wake       map[string]chan struct{}
}

var _ detect.Sink = (*Notifier)(nil)

// New returns a Notifier. Its metrics are registered on reg. now is the
// wall clock (time.Now when nil).
func New(cfg Config, store Store, receivers []Receiver, reg prometheus.Registerer, logger *slog.Logger, now func() time.Time) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	n := &Notifier{cfg: cfg, store: store, receivers: receivers, logger: logger, metrics: newMetrics(reg), now: now,
		alerts: map[string]*Alert{}, finished: map[string]finishedAlert{}, groups: map[string]*group{}, current: map[string]*group{}, inhibit: newInhibitors(cfg.Inhibit),
		deliveries: map[string]Delivery{}, wake: map[string]chan struct{}{}}
	for _, r := range receivers {
		n.wake[r.Name()] = make(chan struct{}, 1)
	}
	return n, nil
}

// Alert implements detect.Sink: the alert's new state is stored before it
// returns nil. An error means it was not accepted.
func (n *Notifier) Alert(d detect.Alert) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.ready {
		return ErrNotReady
	}
	k := d.Tenant + "\x00" + d.ID
	cur := n.alerts[k]
	if f, ok := n.finished[k]; ok && cur == nil && d.Count <= f.count && !d.Last.After(f.last) {
		return nil // notified and closed already: a replay
	}
	// A detector that re-reads a window after a restart or a rebalance
	// hands over again alerts the notifier has already taken, with the
	// same ids: a state it has seen, or gone past, adds nothing. A
	// resolution still resolves, keeping what was counted.
	if cur != nil && d.Count <= cur.Count && !d.Last.After(cur.Last) {
		switch {
		case d.Status == detect.StatusResolved && !cur.Resolved:
			d.Count, d.Last = cur.Count, cur.Last
		case d.Count < cur.Count || d.Title == cur.Title && d.Summary == cur.Summary:
			return nil
		}
	}
	var a Alert
	if cur != nil {
		a = *cur
	}
	if !a.fromDetect(&d) && cur != nil {
		return nil
	}
	now := n.now()
	var changes []Change
	var g *group
	switch {
	case cur == nil:
		if s := silencedBy(n.silences, &a, now); s != nil {
			changes = append(changes, a.change(StatusSilenced, "silence "+s.ID, s.Comment, now))
			break
		}
		if src := n.inhibit.inhibitedBy(&a); src != nil {
			changes = append(changes, a.change(StatusSilenced, "inhibited by "+src.ID, src.Title, now))
			break
		}
		changes = append(changes, a.change(StatusFiring, "detect", "", now))
		key, labels := groupKey(n.cfg.GroupBy, &a)
		if g = n.current[key]; g == nil || !g.open() {
			g = &group{id: groupID(key, a.ID), key: key, labels: labels, created: now}
		}
		a.GroupID, a.GroupKey = g.id, g.key
	case d.Status == detect.StatusResolved && a.Open():
		changes = append(changes, a.change(StatusResolved, "detect", "", now))
	default:
		a.Version++ // more events, new texts
	}
	if err := n.store.SaveAlerts(context.Background(), []Alert{a}, changes); err != nil {
		n.metrics.storeErrors.Inc()
		return fmt.Errorf("alerting: storing alert %s: %w", a.ID, err)
	}
	if cur == nil {
		cur = &Alert{}
		n.alerts[k] = cur
	}
	*cur = a
	n.inhibit.update(cur)
	if g == nil && a.GroupID != "" {
		g = n.groups[a.GroupID]
	}
	if g != nil {
		if !slices.Contains(g.alerts, cur) {
			g.alerts = append(g.alerts, cur)
			n.groups[g.id], n.current[g.key] = g, g
		}
		n.touch(g, a.Resolved, now)
	}
	for _, c := range changes {
		n.metrics.alerts.WithLabelValues(a.Rule, a.Severity, c.Status).Inc()
	}
	n.bound()
	return nil
}

// touch marks g changed; urgent changes skip group_interval.
func (n *Notifier) touch(g *group, urgent bool, now time.Time) {
	g.version = groupVersion(g)
	g.changed = now
	if urgent {
		g.urgent = true
	}
	g.closed = !g.open()
	for _, ch := range n.wake {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// groupVersion is the sum of its alerts' versions: it grows with every
// change and is the same after a restart, from the stored alerts alone.
func groupVersion(g *group) uint64 {
	var v uint64
	for _, a := range g.alerts {
		v += a.Version
	}
	return v
}

// Action is what a person did to a notification, from Slack.
type Action struct {
	// Kind: "ack", "false_positive" or "silence".
	Kind    string
	GroupID string
	By      string
	Comment string
	// SilenceFor is how long a "silence" silences the notification's
	// actors, or its scheduled findings (24 hours by default).
	SilenceFor time.Duration
}

// Action kinds.
const (
	ActAck           = "ack"
	ActFalsePositive = "false_positive"
	ActSilence       = "silence"
)

// Act applies a person's action to a notification: its alerts change
// status, the change is stored with who made it, and the receivers are
// told at once.
func (n *Notifier) Act(ctx context.Context, act Action) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[act.GroupID]
	if g == nil {
		return fmt.Errorf("alerting: no open notification %q", act.GroupID)
	}
	now := n.now()
	var silences []Silence
	if act.Kind == ActSilence {
		if act.SilenceFor <= 0 {
			act.SilenceFor = 24 * time.Hour
		}
		seen := map[string]bool{}
		for _, a := range g.alerts {
			m := a.SilenceMatchers()
			if k := matchersString(m); !seen[k] {
				seen[k] = true
				s, err := NewSilence(m, now, now.Add(act.SilenceFor), act.By,
					fmt.Sprintf("from Slack, notification %s: %s", g.id, a.Title), now, false)
				if err != nil {
					return err
				}
				silences = append(silences, s)
			}
		}
	}
	updated := make([]Alert, 0, len(g.alerts))
	var changes []Change
	for _, cur := range g.alerts {
		a := *cur
		var status string
		switch {
		case act.Kind == ActAck && a.Status == StatusFiring:
			status = StatusAcknowledged
		case act.Kind == ActFalsePositive && a.Status != StatusFalsePositive:
			status = StatusFalsePositive
		case act.Kind == ActSilence && a.Open():
			status = StatusSilenced
		case act.Kind != ActAck && act.Kind != ActFalsePositive && act.Kind != ActSilence:
			return fmt.Errorf("alerting: unknown action %q", act.Kind)
		default:
			continue
		}
		changes = append(changes, a.change(status, act.By, act.Comment, now))
		updated = append(updated, a)
	}
	for _, s := range silences {
		if err := n.store.SaveSilence(ctx, s); err != nil {
			n.metrics.storeErrors.Inc()
			return fmt.Errorf("alerting: storing silence: %w", err)
		}
	}
	if len(updated) > 0 {
		if err := n.store.SaveAlerts(ctx, updated, changes); err != nil {
			n.metrics.storeErrors.Inc()
			return fmt.Errorf("alerting: storing the action: %w", err)
		}
	}
	n.silences = append(n.silences, silences...)
	for _, a := range updated {
		cur := n.alerts[a.Tenant+"\x00"+a.ID]
		*cur = a
		n.inhibit.update(cur)
		n.metrics.alerts.WithLabelValues(a.Rule, a.Severity, a.Status).Inc()
		if act.Kind == ActFalsePositive {
			n.metrics.falsePositives.WithLabelValues(a.Rule).Inc()
		}
	}
	n.touch(g, true, now)
	n.logger.Info("notification updated by a person", "action", act.Kind, "notification", g.id, "by", act.By, "alerts", len(updated))
	return nil
}

// AddSilence stores a silence and applies it to new alerts at once.
func (n *Notifier) AddSilence(ctx context.Context, s Silence) error {
	if err := n.store.SaveSilence(ctx, s); err != nil {
		return err
	}
	n.mu.Lock()
	n.silences = append(n.silences, s)
	n.mu.Unlock()
	return nil
}

// updateOpen sets the open-alerts gauge (every 10 s, and at load: it
// walks every alert).
func (n *Notifier) updateOpen() {
	counts := map[string]int{}
	for _, a := range n.alerts {
		if a.Open() {
			counts[a.Severity]++
		}
	}
	for _, s := range []string{"info", "low", "medium", "high", "critical"} {
		n.metrics.open.WithLabelValues(s).Set(float64(counts[s]))
	}
}

// bound drops the oldest notifications from memory past max_open_alerts
// (they stay stored) and forgets alerts no notification holds. It drops a
// tenth of the bound at once, so that a flood pays the sort once per many
// alerts, not once per alert.
func (n *Notifier) bound() {
	if len(n.alerts) <= n.cfg.MaxOpen {
		return
	}
	target := n.cfg.MaxOpen - n.cfg.MaxOpen/10
	var gs []*group
	for _, g := range n.groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *group) int { return a.changed.Compare(b.changed) })
	for _, g := range gs {
		if len(n.alerts) <= target {
			break
		}
		n.forget(g)
		n.metrics.dropped.Inc()
	}
	// Alerts in no group (silenced ones) go oldest first.
	if len(n.alerts) > target {
		var loose []string
		for k, a := range n.alerts {
			if a.GroupID == "" {
				loose = append(loose, k)
			}
		}
		slices.SortFunc(loose, func(a, b string) int { return n.alerts[a].StatusAt.Compare(n.alerts[b].StatusAt) })
		for _, k := range loose {
			if len(n.alerts) <= target {
				break
			}
			n.inhibit.remove(n.alerts[k])
			delete(n.alerts, k)
		}
	}
}

type finishedAlert struct {
	count   int
	last    time.Time
	expires time.Time
}

// forget drops g and its alerts from memory, remembering the alerts as
// finished.
func (n *Notifier) forget(g *group) {
	now := n.now()
	if len(n.finished) >= n.cfg.MaxOpen {
		for k, f := range n.finished { // the expired, then any (Go's map order is random)
			if now.After(f.expires) {
				delete(n.finished, k)
			}
		}
		for k := range n.finished {
			if len(n.finished) < n.cfg.MaxOpen*9/10 {
				break
			}
			delete(n.finished, k)
		}
	}
	for _, a := range g.alerts {
		n.inhibit.remove(a)
		k := a.Tenant + "\x00" + a.ID
		delete(n.alerts, k)
		n.finished[k] = finishedAlert{count: a.Count, last: a.Last, expires: now.Add(n.cfg.KeepFor)}
	}
	delete(n.groups, g.id)
	if n.current[g.key] == g {
		delete(n.current, g.key)
	}
	for _, r := range n.receivers {
		delete(n.deliveries, r.Name()+"\x00"+g.id)
	}
}
