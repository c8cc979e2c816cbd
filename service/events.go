package service

import (
	"container/heap"
	"errors"
	"io"
	"time"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
)

// eventStream reads the events of one input, one at a time: records of any
// source or canonical, framed and normalized, without their raw (replay
// and detection do not need it). A record that cannot be read is reported
// on errw as LABEL:LINE: reason and counted.
type eventStream struct {
	label    string
	tenant   string
	rd       *source.Reader
	errw     io.Writer
	evs      []event.Event
	next     int
	rejected int
}

func newEventStream(r io.Reader, label, tenant string, errw io.Writer) *eventStream {
	return &eventStream{label: label, tenant: tenant, rd: source.NewReader(r, 0), errw: errw}
}

// Next returns the next event, valid until the following call, or nil and
// io.EOF at the end. Any other error is the input's.
func (s *eventStream) Next() (*event.Event, error) {
	for s.next >= len(s.evs) {
		rec, err := s.rd.Next()
		if err == io.EOF {
			return nil, io.EOF
		}
		var re *source.RecordError
		if errors.As(err, &re) {
			s.rejected++
			source.ReportReject(s.errw, s.label, re.Line, re)
			continue
		}
		if err != nil {
			return nil, err
		}
		s.next = 0
		if s.evs, err = (source.Auto{SkipRaw: true}).Normalize(s.evs[:0], rec.Data, s.tenant); err != nil {
			s.rejected++
			source.ReportReject(s.errw, s.label, rec.Line, err)
		}
		source.DefaultLimits().Apply(s.evs, time.Now())
	}
	s.next++
	return &s.evs[s.next-1], nil
}

// mergedStreams yields the events of several streams in time order, each
// stream being in time order give or take the engine's allowed lateness:
// a day of Okta and a day of Entra ID replay as one day. It holds one
// record's events per stream.
type mergedStreams struct {
	heads streamHeap
	cur   event.Event
}

type streamHead struct {
	s  *eventStream
	ev *event.Event
}

func mergeStreams(streams []*eventStream) (*mergedStreams, error) {
	m := &mergedStreams{}
	for _, s := range streams {
		if err := m.push(s); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *mergedStreams) push(s *eventStream) error {
	ev, err := s.Next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	heap.Push(&m.heads, streamHead{s: s, ev: ev})
	return nil
}

// Next returns the earliest head event, valid until the next call, or nil
// and io.EOF when every stream ended.
func (m *mergedStreams) Next() (*event.Event, error) {
	if m.heads.Len() == 0 {
		return nil, io.EOF
	}
	h := heap.Pop(&m.heads).(streamHead)
	m.cur = *h.ev // the stream reuses its buffer on its next call
	if err := m.push(h.s); err != nil {
		return nil, err
	}
	return &m.cur, nil
}

type streamHeap []streamHead

func (h streamHeap) Len() int           { return len(h) }
func (h streamHeap) Less(i, j int) bool { return h[i].ev.Time.Before(h[j].ev.Time) }
func (h streamHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)        { *h = append(*h, x.(streamHead)) }
func (h *streamHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
