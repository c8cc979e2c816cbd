package alerting

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// never is a due time that does not come.
var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Run loads the stored state (retrying until the store answers), then
// delivers until ctx ends: one loop per receiver, so that one integration's
// outage does not hold the others, and a reload of silences every 10 s
// (the silence command writes them to the store).
func (n *Notifier) Run(ctx context.Context) error {
	for backoff := time.Second; ; backoff = min(2*backoff, 30*time.Second) {
		err := n.load(ctx)
		if err == nil {
			break
		}
		n.metrics.storeErrors.Inc()
		n.logger.Warn("loading stored alerts; will retry", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
	var wg sync.WaitGroup
	for _, r := range n.receivers {
		wg.Add(1)
		go func() { defer wg.Done(); n.deliverLoop(ctx, r) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); n.silenceLoop(ctx) }()
	wg.Wait()
	return nil
}

// Ready reports whether the notifier accepts alerts.
func (n *Notifier) Ready() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ready
}

// load rebuilds alerts, notifications, deliveries and silences from the
// store: the notifications still open, or not yet delivered everywhere.
func (n *Notifier) load(ctx context.Context) error {
	since := n.now().Add(-n.cfg.KeepFor)
	alerts, err := n.store.LoadAlerts(ctx, since)
	if err != nil {
		return err
	}
	deliveries, err := n.store.LoadDeliveries(ctx, since)
	if err != nil {
		return err
	}
	silences, err := n.store.LoadSilences(ctx)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range deliveries {
		n.deliveries[d.Receiver+"\x00"+d.GroupID] = d
	}
	slices.SortFunc(alerts, func(a, b Alert) int { return a.StatusAt.Compare(b.StatusAt) })
	for i := range alerts {
		a := &alerts[i]
		if cur := n.alerts[a.Tenant+"\x00"+a.ID]; cur != nil && cur.Version >= a.Version {
			continue
		}
		n.alerts[a.Tenant+"\x00"+a.ID] = a
		n.inhibit.update(a)
		if a.GroupID == "" {
			continue
		}
		g := n.groups[a.GroupID]
		if g == nil {
			key, labels := groupKey(n.cfg.GroupBy, a)
			g = &group{id: a.GroupID, key: key, labels: labels, created: a.StatusAt}
			n.groups[g.id] = g
		}
		g.alerts = append(g.alerts, a)
		if a.StatusAt.After(g.changed) {
			g.changed = a.StatusAt
		}
	}
	for _, g := range n.groups {
		g.version = groupVersion(g)
		g.closed = !g.open()
		if g.closed && n.deliveredEverywhere(g) {
			n.forget(g)
			continue
		}
		if cur := n.current[g.key]; cur == nil || g.created.After(cur.created) {
			n.current[g.key] = g
		}
	}
	n.silences = silences
	n.ready = true
	n.updateOpen()
	n.logger.Info("alerting state loaded", "alerts", len(n.alerts), "notifications", len(n.groups), "silences", len(silences))
	return nil
}

func (n *Notifier) deliveredEverywhere(g *group) bool {
	for _, r := range n.receivers {
		if n.deliveries[r.Name()+"\x00"+g.id].Version < g.version {
			return false
		}
	}
	return true
}

func (n *Notifier) silenceLoop(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s, err := n.store.LoadSilences(ctx)
			if err != nil {
				n.logger.Warn("reloading silences", "err", err)
				continue
			}
			n.mu.Lock()
			n.silences = s
			n.updateOpen()
			n.mu.Unlock()
		}
	}
}

// deliverLoop delivers due notifications to r until ctx ends.
func (n *Notifier) deliverLoop(ctx context.Context, r Receiver) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n.mu.Lock()
		g, at := n.nextDue(r, n.now())
		var snap *Notification
		var last Delivery
		if g != nil {
			snap = g.snapshot()
			last = n.deliveries[r.Name()+"\x00"+g.id]
			snap.Repeat = last.Version >= g.version && g.firing()
		}
		n.mu.Unlock()
		if snap != nil {
			n.deliver(ctx, r, snap, last)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		wait := min(time.Until(at), time.Minute)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return
		case <-n.wake[r.Name()]:
		case <-timer.C:
		}
	}
}

// nextDue returns the notification due soonest for r if it is due by now,
// else when the next one is.
func (n *Notifier) nextDue(r Receiver, now time.Time) (*group, time.Time) {
	var best *group
	bestAt := never
	for _, g := range n.groups {
		if now.Sub(g.changed) > n.cfg.KeepFor && n.deliveredEverywhere(g) {
			n.forget(g) // one-shot alerts nobody closed: stored, no longer held
			continue
		}
		if at := n.dueAt(r, g, now); at.Before(bestAt) {
			best, bestAt = g, at
		}
	}
	if best != nil && !bestAt.After(now) {
		return best, bestAt
	}
	return nil, bestAt
}

// dueAt is when g is next due for r.
func (n *Notifier) dueAt(r Receiver, g *group, now time.Time) time.Time {
	d := n.deliveries[r.Name()+"\x00"+g.id]
	if t := g.next[r.Name()]; t.After(now) {
		return t // backing off after a failure
	}
	if n.draining && d.Version < g.version {
		return now // shutting down: no more waiting for group_wait or group_interval
	}
	switch {
	case d.Version == 0:
		if g.critical() || n.cfg.GroupWait == 0 {
			return g.created
		}
		return g.created.Add(n.cfg.GroupWait)
	case d.Version < g.version:
		if g.urgent {
			return now
		}
		return d.Sent.Add(n.cfg.GroupInterval)
	}
	due := never
	if rs := r.Resend(); rs > 0 && g.open() {
		due = d.Sent.Add(rs)
	}
	if g.firing() {
		if t := d.Sent.Add(n.cfg.RepeatInterval); t.Before(due) {
			due = t
		}
	}
	return due
}

// deliver sends one notification to r and records the outcome.
func (n *Notifier) deliver(ctx context.Context, r Receiver, snap *Notification, last Delivery) {
	name := r.Name()
	record := func(d Delivery) error {
		d.Receiver, d.GroupID = name, snap.ID
		if err := n.store.SaveDelivery(ctx, d); err != nil {
			return err
		}
		n.mu.Lock()
		n.deliveries[name+"\x00"+snap.ID] = d // the next attempt sees it too
		n.mu.Unlock()
		return nil
	}
	start := n.now()
	for _, a := range snap.Alerts {
		if a.Observed.After(last.Sent) && !a.Observed.IsZero() {
			n.metrics.latency.WithLabelValues(name).Observe(start.Sub(a.Observed).Seconds())
		}
	}
	d, err := r.Notify(ctx, snap, last, record)
	if err == nil {
		d.Receiver, d.GroupID, d.Version, d.Sent, d.Pending = name, snap.ID, snap.Version, n.now(), time.Time{}
		// What was sent is recorded even if shutdown began meanwhile: a lost
		// record is what makes a restart look for the message again. It is
		// written outside the lock: alerts keep being accepted meanwhile.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if serr := n.store.SaveDelivery(sctx, d); serr != nil {
			n.metrics.storeErrors.Inc()
			n.logger.Error("recording a delivery; it may be repeated after a restart", "receiver", name, "notification", snap.ID, "err", serr)
		}
		cancel()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[snap.ID]
	if g == nil {
		return // dropped from memory meanwhile
	}
	if g.next == nil {
		g.next, g.tries = map[string]time.Time{}, map[string]int{}
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		n.metrics.notifications.WithLabelValues(name, "failed").Inc()
		g.tries[name]++
		retry, after := Retryable(err)
		wait := min(time.Duration(1<<min(g.tries[name], 8))*time.Second, 5*time.Minute)
		wait = wait/2 + rand.N(wait/2+1) // jitter
		if !retry {
			wait = 5 * time.Minute // not worth retrying soon; never dropped
		}
		wait = max(wait, after)
		g.next[name] = n.now().Add(wait)
		n.logger.Warn("notification failed; will retry", "receiver", name, "notification", snap.ID, "retry_in", wait.Round(time.Millisecond), "err", err)
		return
	}
	n.metrics.notifications.WithLabelValues(name, "sent").Inc()
	n.deliveries[name+"\x00"+snap.ID] = d
	delete(g.next, name)
	delete(g.tries, name)
	if n.deliveredEverywhere(g) {
		g.urgent = false
		if g.closed && g.version == snap.Version {
			n.forget(g)
		}
	}
}

// Drain delivers every notification not yet delivered everywhere, without
// waiting for group_wait or group_interval, and returns when none is left
// or ctx ends (a failing integration keeps its notifications stored, for
// the next start).
func (n *Notifier) Drain(ctx context.Context) {
	n.mu.Lock()
	n.draining = true
	for _, ch := range n.wake {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	n.mu.Unlock()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		n.mu.Lock()
		left := 0
		for _, g := range n.groups {
			if !n.deliveredEverywhere(g) {
				left++
			}
		}
		n.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			n.logger.Warn("stopping with notifications not yet delivered; they are stored and go out at the next start", "notifications", left)
			return
		case <-t.C:
		}
	}
}
