package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

// Stats counts what NormalizeStream did.
type Stats struct {
	Records  int // records read
	Events   int // canonical events written
	Rejected int // records rejected (bad JSON, unknown source, bad fields)
	NotJSON  int // runs of lines that are not JSON at all (text, binary data)
	Trimmed  int // events cut to the Limits (see event.Trimmed)
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Events += o.Events
	s.Rejected += o.Rejected
	s.NotJSON += o.NotJSON
	s.Trimmed += o.Trimmed
}

// RejectFunc is told of each rejected record: the line it starts on and why.
type RejectFunc func(line int, err error)

// NormalizeStream reads raw records from r, normalizes them with n and
// writes each event as one NDJSON line to w, in input order. A record that
// cannot be read or normalized goes to reject and the stream goes on. The
// error returned is r's or w's, or ctx's. Events are bounded by the
// DefaultLimits, as received now.
func NormalizeStream(ctx context.Context, r io.Reader, w io.Writer, n Normalizer, tenant string, maxRecord int, reject RejectFunc) (Stats, error) {
	var (
		st     Stats
		rd     = NewReader(r, maxRecord)
		evs    []event.Event
		out    []byte
		limits = DefaultLimits()
	)
	for {
		if st.Records&1023 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		rec, err := rd.Next()
		var re *RecordError
		switch {
		case err == io.EOF:
			return st, nil
		case errors.As(err, &re):
			if errors.Is(re, ErrNotJSON) || errors.Is(re, ErrBinary) {
				st.NotJSON++ // not a record at all
			} else {
				st.Records++
				st.Rejected++
			}
			reject(re.Line, re)
			continue
		case err != nil:
			return st, err
		}
		st.Records++
		evs, err = n.Normalize(evs[:0], rec.Data, tenant)
		if err != nil {
			st.Rejected++
			reject(rec.Line, err)
			continue
		}
		st.Trimmed += limits.Apply(evs, time.Now()).Events
		out = out[:0]
		for i := range evs {
			if out, err = evs[i].AppendJSON(out); err != nil {
				return st, fmt.Errorf("encoding event of line %d: %w", rec.Line, err)
			}
		}
		if _, err := w.Write(out); err != nil {
			return st, err
		}
		st.Events += len(evs)
	}
}
