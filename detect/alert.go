// Package detect evaluates rules on the stream of canonical events: simple
// conditions, thresholds over sliding windows, ordered sequences, and dedup,
// in event-time order with bounded allowed lateness and bounded state.
package detect

import (
	"time"
)

// Alert is an alert candidate, handed to alerting.
type Alert struct {
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	Tenant   string    `json:"tenant"`
	Key      string    `json:"key"`
	Count    int       `json:"count"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	// Events are the ids of the events that made the alert, at most
	// Config.MaxEventIDs of them (the first ones).
	Events  []string `json:"events"`
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Tags    []string `json:"tags"`
	// Final is false when the alert opens (more events may still be
	// counted into it during its dedup period) and true when it closes.
	Final bool `json:"-"`

	until time.Time // end of the dedup period
}

// Sink receives alerts: once when an alert opens and once when it closes
// (Final). An alert without a dedup period opens and closes at once and is
// handed over once, Final.
type Sink interface {
	Alert(a *Alert)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(a *Alert)

// Alert implements Sink.
func (f SinkFunc) Alert(a *Alert) { f(a) }
