package detect

import (
	"slices"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

// clock is the stream's event time. The watermark is the newest event time
// seen, never moved by an event too far ahead of the wall clock; on a
// quiet stream (no event between two ticks) it moves on with the wall
// clock. Windows and sequences evaluate an event once the watermark is
// AllowedLateness past it.
type clock struct {
	watermark time.Time
	released  time.Time // time of the last event evaluated in order
	arrivals  uint64    // events seen
	// At the last tick: its wall-clock time and the arrivals then.
	ticked         time.Time
	arrivalsAtTick uint64
	// skewLimit is a recent wall-clock time plus MaxFutureSkew: an event
	// before it is not too far ahead, and Process reads the wall clock
	// only for events past it.
	skewLimit time.Time
}

// arrive records an event of time t.
func (c *clock) arrive(t time.Time) {
	if t.After(c.watermark) {
		c.watermark = t
	}
	c.arrivals++
}

// tick moves the watermark on by the wall-clock time since the last tick
// if no event arrived since.
func (c *clock) tick(now time.Time) {
	if c.arrivals == c.arrivalsAtTick && !c.ticked.IsZero() && c.arrivals > 0 {
		if d := now.Sub(c.ticked); d > 0 {
			c.watermark = c.watermark.Add(d)
		}
	}
	c.ticked, c.arrivalsAtTick = now, c.arrivals
}

// eventQueue holds events in time order for the allowed lateness. Events
// mostly arrive in order, so it is a sorted slice: an in-order event is
// appended, a late one is inserted from the back, the earliest is taken from
// the front. It holds events by value with copies of their targets and
// changes (the caller may reuse its event's), and without Raw: held events
// would otherwise keep a minute of raw records (and Raw may alias the
// caller's buffer).
type eventQueue struct {
	buf  []event.Event
	head int
}

func (q *eventQueue) len() int { return len(q.buf) - q.head }

func (q *eventQueue) first() *event.Event { return &q.buf[q.head] }

func (q *eventQueue) push(e *event.Event) {
	q.buf = append(q.buf, *e)
	// Its own targets and changes: the caller may reuse e's (a reader
	// scanning rows into one event) before this one is evaluated.
	h := &q.buf[len(q.buf)-1]
	h.Raw, h.Targets, h.Changes = nil, slices.Clone(e.Targets), slices.Clone(e.Changes)
	i := len(q.buf) - 1
	for i > q.head && e.Time.Before(q.buf[i-1].Time) {
		i--
	}
	if i < len(q.buf)-1 {
		held := q.buf[len(q.buf)-1]
		copy(q.buf[i+1:], q.buf[i:len(q.buf)-1])
		q.buf[i] = held
	}
}

// pop moves the earliest event into *into and returns into.
func (q *eventQueue) pop(into *event.Event) *event.Event {
	*into = q.buf[q.head]
	q.buf[q.head] = event.Event{}
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head > 1024 && q.head > len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return into
}
