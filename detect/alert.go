// Package detect evaluates rules on the stream of canonical events: simple
// conditions, thresholds over sliding windows, ordered sequences, and dedup,
// in event-time order with bounded allowed lateness and bounded state.
package detect

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/scimwatch/scimwatch/event"
)

// Alert statuses.
const (
	// StatusFiring: the alert opened. Unless it is Final, more events may
	// be counted into it during its dedup period.
	StatusFiring = "firing"
	// StatusResolved: its dedup period passed; Count is final.
	StatusResolved = "resolved"
)

// Alert is an alert as the engine hands it over: a value the receiver
// owns. An alert with a dedup period (every threshold and sequence alert,
// and simple rules with dedup.period) is handed over twice, with the same
// ID: firing when it opens, and resolved, Final, when its period ends with
// the events counted into it. An alert without a period is handed over
// once, firing and Final.
type Alert struct {
	// ID identifies the alert: the same rule, tenant, key and first event
	// time give the same ID, so a replay of the same events gives the same
	// alerts.
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	Tenant   string    `json:"tenant"`
	Key      string    `json:"key"`
	Status   string    `json:"status"`
	Final    bool      `json:"final"`
	Count    int       `json:"count"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	// Events are the ids of the events that made the alert, at most
	// Config.MaxEventIDs of them (the first ones).
	Events  []string `json:"events"`
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Tags    []string `json:"tags"`
	// Who did it and to whom, from the event that opened the alert: the
	// actor's email, name or id, and each target as "type: name".
	Actor   string   `json:"actor"`
	Targets []string `json:"targets"`
	// The rule's description and runbook link, for the people it reaches.
	Description string `json:"description,omitempty"`
	Runbook     string `json:"runbook,omitempty"`
	// Observed is the wall-clock time the engine raised or resolved the
	// alert: alerting measures its latency from it.
	Observed time.Time `json:"-"`
}

// MarshalJSON writes times as events do: RFC 3339, UTC, milliseconds.
func (a Alert) MarshalJSON() ([]byte, error) {
	type plain Alert
	return json.Marshal(struct {
		plain
		First string `json:"first"`
		Last  string `json:"last"`
	}{plain(a), a.First.UTC().Format(event.TimeLayout), a.Last.UTC().Format(event.TimeLayout)})
}

// alertID is the ID of the alert of rule, tenant and key that opened at
// first: 16 hex digits of a 64-bit hash.
func alertID(rule, tenant, key string, first time.Time) string {
	var d xxhash.Digest
	d.Reset()
	for _, s := range [...]string{rule, tenant, key} {
		_, _ = d.WriteString(s)
		_, _ = d.Write([]byte{0})
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(first.UnixNano()))
	_, _ = d.Write(b[:])
	var out [16]byte
	hex.Encode(out[:], binary.BigEndian.AppendUint64(b[:0], d.Sum64()))
	return string(out[:])
}

// Sink receives alerts, outside the engine's lock and in the order they
// were raised. An error means the alert was not accepted: the engine keeps
// it (and those after it) and hands it over again before any newer alert,
// at the next Process, Tick or Flush, which return the error meanwhile.
type Sink interface {
	Alert(a Alert) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(a Alert) error

// Alert implements Sink.
func (f SinkFunc) Alert(a Alert) error { return f(a) }

// who renders an actor: email, else name, else id.
func who(a *event.Actor) string {
	for _, s := range []string{a.Email, a.Name, a.ID} {
		if s != "" {
			return s
		}
	}
	return "unknown actor"
}

// targetNames renders an event's targets as "type: name".
func targetNames(ev *event.Event) []string {
	out := make([]string, 0, len(ev.Targets))
	for _, t := range ev.Targets {
		name := t.Email
		if name == "" {
			name = t.Name
		}
		if name == "" {
			name = t.ID
		}
		out = append(out, t.Type+": "+name)
	}
	return out
}

// snapshot is the value handed to the sink: its slices are its own. An
// alert handed over for the last time gives its event ids away; one that
// may still count events gives a copy.
func (a *Alert) snapshot() Alert {
	s := *a
	if !a.Final {
		s.Events = slices.Clone(a.Events)
	}
	if len(a.Tags) > 0 {
		s.Tags = slices.Clone(a.Tags)
	}
	if !a.Final {
		s.Targets = slices.Clone(a.Targets)
	}
	return s
}
