package alerting

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Notification is what a receiver delivers: one group's alerts at one
// version. Receivers get a copy they own.
type Notification struct {
	// ID identifies the notification (the Slack message) across restarts.
	ID string
	// Key is the group's labels, "rule=x,tenant=y"; Labels the same as a map.
	Key    string
	Labels map[string]string
	// Alerts of the group, oldest first; silenced ones included, marked.
	Alerts  []Alert
	Version uint64
	// Repeat is set when the notification is sent again because its alerts
	// are still firing and nobody acknowledged them.
	Repeat bool
}

// Firing returns the alerts still firing and acknowledged by nobody.
func (n *Notification) Firing() []Alert {
	var out []Alert
	for _, a := range n.Alerts {
		if a.Status == StatusFiring {
			out = append(out, a)
		}
	}
	return out
}

// Status is the notification's status as a whole: firing if any alert
// fires, else acknowledged if any is acknowledged, else the status its
// alerts share (resolved, silenced, false_positive), else resolved.
func (n *Notification) Status() string {
	counts := map[string]int{}
	for _, a := range n.Alerts {
		counts[a.Status]++
	}
	for _, s := range []string{StatusFiring, StatusAcknowledged} {
		if counts[s] > 0 {
			return s
		}
	}
	for _, s := range []string{StatusFalsePositive, StatusSilenced, StatusResolved} {
		if counts[s] == len(n.Alerts) {
			return s
		}
	}
	return StatusResolved
}

// Severity is the highest severity of its alerts.
func (n *Notification) Severity() string {
	best := ""
	for _, a := range n.Alerts {
		if severityRank(a.Severity) > severityRank(best) {
			best = a.Severity
		}
	}
	return best
}

func severityRank(s string) int {
	return slices.Index([]string{"info", "low", "medium", "high", "critical"}, s)
}

// Receiver delivers notifications to one integration.
type Receiver interface {
	// Name is the receiver's name in metrics and the notification log.
	Name() string
	// Notify brings what the receiver shows of n up to date. last is what
	// it delivered before (Version 0: nothing). record persists an
	// intermediate state before a send whose outcome could be lost. It
	// returns the new delivery state, or an error; a *RetryError says when
	// to try again.
	Notify(ctx context.Context, n *Notification, last Delivery, record func(Delivery) error) (Delivery, error)
	// Resend is how often a notification with open alerts must be sent
	// again though it did not change (Alertmanager forgets alerts not
	// resent), or 0.
	Resend() time.Duration
}

// RetryError is a failure worth retrying, after After if set (a
// Retry-After header).
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth retrying, and after how long if
// the receiver was told.
func Retryable(err error) (bool, time.Duration) {
	var re *RetryError
	if errors.As(err, &re) {
		return true, re.After
	}
	return false, 0
}

// group is one notification being assembled and delivered.
type group struct {
	id      string
	key     string
	labels  map[string]string
	alerts  []*Alert
	version uint64
	created time.Time
	// urgent is set by changes that must not wait for group_interval: a
	// person's action, or resolution.
	urgent bool
	// changed is when the group last changed.
	changed time.Time
	// per receiver
	next   map[string]time.Time // earliest next attempt after a failure
	tries  map[string]int
	closed bool // every alert closed: it goes once delivered
}

// groupKey returns the group key of a under groupBy, and its labels.
func groupKey(groupBy []string, a *Alert) (string, map[string]string) {
	labels := make(map[string]string, len(groupBy))
	parts := make([]string, 0, len(groupBy))
	for _, l := range groupBy {
		v := a.Label(l)
		labels[l] = v
		parts = append(parts, l+"="+v)
	}
	return strings.Join(parts, ","), labels
}

// groupID names a new group: its key and the first alert, so that the
// next incident of the same key is a new notification.
func groupID(key, firstAlert string) string {
	h := xxhash.Sum64String(key + "\x00" + firstAlert)
	const hexdigits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hexdigits[h&0xf]
		h >>= 4
	}
	return string(b[:])
}

// snapshot is the notification of g now.
func (g *group) snapshot() *Notification {
	n := &Notification{ID: g.id, Key: g.key, Labels: g.labels, Version: g.version}
	for _, a := range g.alerts {
		c := *a
		c.Events, c.Tags, c.Targets = slices.Clone(a.Events), slices.Clone(a.Tags), slices.Clone(a.Targets)
		n.Alerts = append(n.Alerts, c)
	}
	return n
}

func (g *group) open() bool {
	return slices.ContainsFunc(g.alerts, func(a *Alert) bool { return a.Open() })
}

func (g *group) firing() bool {
	return slices.ContainsFunc(g.alerts, func(a *Alert) bool { return a.Status == StatusFiring })
}

func (g *group) critical() bool {
	return slices.ContainsFunc(g.alerts, func(a *Alert) bool { return a.Severity == "critical" })
}
