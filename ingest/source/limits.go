package source

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/scimwatch/scimwatch/event"
)

// Limits bound what one event may carry. A record an attacker shaped (one
// event naming 200,000 targets, a display name of a megabyte) would
// otherwise cost ClickHouse's views and the detector memory in proportion
// to its size, or its square. Past a bound the excess is cut, counted on
// the event (event.Trimmed) and by the caller's metrics, never dropped
// silently; the event is stored and evaluated with what was kept.
//
// Every path from a record to an event applies the same Limits after
// normalizing: ingest, detection, import, replay and the rule tests, so
// that they agree on what an event is.
type Limits struct {
	// MaxTargets and MaxChanges bound an event's lists. Targets are kept
	// in order, but the first target of each type is always kept, so that
	// padding cannot push the role or the app an event is about out of it.
	MaxTargets int `yaml:"max_targets"`
	MaxChanges int `yaml:"max_changes"`
	// MaxName bounds identity strings: ids, names, emails, types, the
	// tenant, the source's type, addresses and user agents.
	MaxName int `yaml:"max_name_bytes"`
	// MaxText bounds free text: the outcome's reason and changed values.
	MaxText int `yaml:"max_text_bytes"`
}

// DefaultLimits are far above what the vendors write (an Okta or Entra
// record names a handful of targets; identity strings are under 256
// bytes) and low enough that the views' per-event work stays small.
func DefaultLimits() Limits {
	return Limits{MaxTargets: 64, MaxChanges: 256, MaxName: 1 << 10, MaxText: 32 << 10}
}

// Validate reports every bound that is not positive.
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"max_targets", l.MaxTargets}, {"max_changes", l.MaxChanges}, {"max_name_bytes", l.MaxName}, {"max_text_bytes", l.MaxText}} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", f.name))
		}
	}
	if l.MaxName > 0 && l.MaxName < minStringBound || l.MaxText > 0 && l.MaxText < minStringBound {
		errs = append(errs, fmt.Errorf("max_name_bytes and max_text_bytes: at least %d (a cut string keeps a hash of the whole)", minStringBound))
	}
	return errors.Join(errs...)
}

// The sane range of an event's time. Identity audit logs did not exist
// before 2000, and 9999-12-31 or 0001-01-01 are placeholders, not times:
// stored as they are they land in ClickHouse as 2106-02-07 or 1970-01-01
// and drive time-based rules. A time more than MaxAhead past when the
// record was received is a clock that lies by a day or more.
var (
	EarliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	LatestTime   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// MaxAhead is how far past its receipt an event may be dated.
const MaxAhead = 24 * time.Hour

// Trims counts what Apply cut, by kind, over the events it was given.
type Trims struct {
	Events, Targets, Changes, Strings, Times int
	// Unread counts the fields the normalizer could not read
	// (event.Trimmed.Unread), over the events given.
	Unread int
}

// Apply bounds the events of one record, received at received (the Kafka
// record's timestamp, or when an import or replay read it). An event dated
// outside the sane range is placed at received, its own time kept in
// Trimmed.Time. A bound that is zero is the default's.
func (l Limits) Apply(evs []event.Event, received time.Time) Trims {
	var tr Trims
	d := DefaultLimits()
	for _, b := range []struct{ v, def *int }{{&l.MaxTargets, &d.MaxTargets}, {&l.MaxChanges, &d.MaxChanges}, {&l.MaxName, &d.MaxName}, {&l.MaxText, &d.MaxText}} {
		if *b.v <= 0 {
			*b.v = *b.def
		}
	}
	for i := range evs {
		e := &evs[i]
		before := e.Trimmed
		l.apply(e, received)
		if e.Trimmed != before || e.Trimmed.Unread > 0 {
			tr.Events++
			tr.Unread += e.Trimmed.Unread
			tr.Targets += e.Trimmed.Targets - before.Targets
			tr.Changes += e.Trimmed.Changes - before.Changes
			tr.Strings += e.Trimmed.Strings - before.Strings
			if e.Trimmed.Time != before.Time {
				tr.Times++
			}
		}
	}
	return tr
}

func (l Limits) apply(e *event.Event, received time.Time) {
	if t := e.Time; t.Before(EarliestTime) || !t.Before(LatestTime) || !received.IsZero() && t.After(received.Add(MaxAhead)) {
		e.Trimmed.Time = t.UTC().Format(time.RFC3339Nano)
		e.Time = received.UTC()
	}
	if n := len(e.Targets); n > l.MaxTargets {
		e.Targets = keepTargets(e.Targets, l.MaxTargets)
		e.Trimmed.Targets += n - len(e.Targets)
	}
	if n := len(e.Changes); n > l.MaxChanges {
		e.Changes = e.Changes[:l.MaxChanges:l.MaxChanges]
		e.Trimmed.Changes += n - l.MaxChanges
	}
	cut := func(s *string, max int) {
		if len(*s) > max {
			*s = shorten(*s, max)
			e.Trimmed.Strings++
		}
	}
	for _, s := range []*string{&e.ID, &e.Tenant, &e.Source, &e.RawType, &e.Action, &e.Outcome, &e.CorrelationID,
		&e.Actor.ID, &e.Actor.Type, &e.Actor.Name, &e.Actor.Email, &e.Actor.IP, &e.Actor.UserAgent} {
		cut(s, l.MaxName)
	}
	cut(&e.Reason, l.MaxText)
	for i := range e.Targets {
		t := &e.Targets[i]
		cut(&t.ID, l.MaxName)
		cut(&t.Type, l.MaxName)
		cut(&t.Name, l.MaxName)
		cut(&t.Email, l.MaxName)
	}
	for i := range e.Changes {
		c := &e.Changes[i]
		cut(&c.Field, l.MaxName)
		cut(&c.Old, l.MaxText)
		cut(&c.New, l.MaxText)
	}
}

// keepTargets returns max of ts, in order: the first of each type, then the
// others from the start. It allocates a new slice: ts may alias a caller's.
func keepTargets(ts []event.Target, max int) []event.Target {
	keep := make([]bool, len(ts))
	n := 0
	seen := map[string]bool{}
	for i := range ts {
		if n < max && !seen[ts[i].Type] {
			seen[ts[i].Type] = true
			keep[i] = true
			n++
		}
	}
	for i := range ts {
		if n == max {
			break
		}
		if !keep[i] {
			keep[i] = true
			n++
		}
	}
	out := make([]event.Target, 0, max)
	for i := range ts {
		if keep[i] {
			out = append(out, ts[i])
		}
	}
	return out
}

// minStringBound leaves room for the hash a cut string ends with.
const minStringBound = 64

// shorten cuts s to max bytes at a character boundary and ends it with a
// hash of the whole, "…#" and 16 hex digits: two long ids that share their
// first max bytes stay two ids.
func shorten(s string, max int) string {
	sum := sha256.Sum256([]byte(s))
	tail := "…#" + hex.EncodeToString(sum[:8])
	keep := max - len(tail)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + tail
}
