package alerting

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Store keeps what must survive a restart: every alert's latest state and
// its status changes, each receiver's notification log, and the silences.
// The ClickHouse store (alerting/alertstore) is the durable one.
type Store interface {
	// SaveAlerts stores the alerts' new states and their changes. The
	// notifier accepts an alert only once this returned.
	SaveAlerts(ctx context.Context, alerts []Alert, changes []Change) error
	// LoadAlerts returns the latest state of the alerts changed since.
	LoadAlerts(ctx context.Context, since time.Time) ([]Alert, error)
	// SaveDelivery records what a receiver has shown of a notification.
	SaveDelivery(ctx context.Context, d Delivery) error
	LoadDeliveries(ctx context.Context, since time.Time) ([]Delivery, error)
	SaveSilence(ctx context.Context, s Silence) error
	LoadSilences(ctx context.Context) ([]Silence, error)
	// FirstRequest records a request taken from outside (a Slack button
	// press), by a digest of what was signed, and reports whether none
	// with that digest was recorded before: a replay is not. It must
	// remember for as long as a signed request stays valid, across
	// restarts.
	FirstRequest(ctx context.Context, digest string, at time.Time) (bool, error)
}

// Delivery is one receiver's record of one notification: what it last
// delivered, and where (the Slack channel and message ts), so that a
// restart edits the message it posted rather than posting another.
type Delivery struct {
	Receiver, GroupID string
	// Version is the notification's version last delivered; 0: never.
	Version uint64
	// Ref is where the receiver put it: "channel/ts" for Slack.
	Ref string
	// Pending is set before a send whose outcome could be lost (a Slack
	// post): after a crash the receiver looks for what it may have sent.
	Pending time.Time
	Sent    time.Time
	// Shown is the receiver's own memo of what it last showed (counts and
	// statuses), to say what changed in the next update.
	Shown string
}

// MemoryStore keeps everything in memory: alerts survive nothing. It is
// for tests, and for trying alerting without ClickHouse.
type MemoryStore struct {
	mu         sync.Mutex
	alerts     map[string]Alert
	changes    []Change
	deliveries map[string]Delivery
	silences   map[string]Silence
	requests   map[string]time.Time
	started    time.Time
	// Fail, when set, makes every save fail with its error.
	Fail error
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{alerts: map[string]Alert{}, deliveries: map[string]Delivery{}, silences: map[string]Silence{},
		requests: map[string]time.Time{}, started: time.Now().Truncate(time.Second)}
}

var _ Store = (*MemoryStore)(nil)

// SaveAlerts implements Store.
func (m *MemoryStore) SaveAlerts(_ context.Context, alerts []Alert, changes []Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	for _, a := range alerts {
		a.Events, a.Tags, a.Targets = slices.Clone(a.Events), slices.Clone(a.Tags), slices.Clone(a.Targets)
		m.alerts[a.Tenant+"\x00"+a.ID] = a
	}
	m.changes = append(m.changes, changes...)
	return nil
}

// LoadAlerts implements Store.
func (m *MemoryStore) LoadAlerts(_ context.Context, since time.Time) ([]Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Alert
	for _, a := range m.alerts {
		if !a.Last.Before(since) || !a.StatusAt.Before(since) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Alert) int { return a.First.Compare(b.First) })
	return out, nil
}

// Changes returns the status changes stored, oldest first.
func (m *MemoryStore) Changes() []Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.changes)
}

// SaveDelivery implements Store.
func (m *MemoryStore) SaveDelivery(_ context.Context, d Delivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	m.deliveries[d.Receiver+"\x00"+d.GroupID] = d
	return nil
}

// LoadDeliveries implements Store.
func (m *MemoryStore) LoadDeliveries(context.Context, time.Time) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	for _, d := range m.deliveries {
		out = append(out, d)
	}
	return out, nil
}

// SaveSilence implements Store.
func (m *MemoryStore) SaveSilence(_ context.Context, s Silence) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	m.silences[s.ID] = s
	return nil
}

// LoadSilences implements Store.
func (m *MemoryStore) LoadSilences(context.Context) ([]Silence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Silence
	for _, s := range m.silences {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Silence) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// FirstRequest implements Store. Memory does not outlive a restart, so a
// request signed in a second before the store was made is taken as seen:
// an exact replay after a restart is refused (a press in the moment
// before a restart must be pressed again). Entries older than ten minutes are
// forgotten.
func (m *MemoryStore) FirstRequest(_ context.Context, digest string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return false, m.Fail
	}
	if at.Before(m.started) {
		return false, nil
	}
	if _, ok := m.requests[digest]; ok {
		return false, nil
	}
	for d, t := range m.requests {
		if time.Since(t) > 10*time.Minute {
			delete(m.requests, d)
		}
	}
	m.requests[digest] = at
	return true, nil
}
