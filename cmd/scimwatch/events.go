package main

import (
	"errors"
	"io"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
)

// readEvents frames and normalizes the records of r (raw of any source, or
// canonical) and hands each event to each, in input order. A record that
// cannot be read is reported on errw as LABEL:LINE: reason and counted.
// The event's Raw aliases the reader's buffer: each must not keep it.
func readEvents(r io.Reader, label, tenant string, errw io.Writer, each func(*event.Event)) (rejected int, err error) {
	rd := source.NewReader(r, 0)
	var evs []event.Event
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return rejected, nil
		}
		var re *source.RecordError
		if errors.As(err, &re) {
			rejected++
			reportReject(errw, label, re.Line, re)
			continue
		}
		if err != nil {
			return rejected, err
		}
		if evs, err = (source.Auto{}).Normalize(evs[:0], rec.Data, tenant); err != nil {
			rejected++
			reportReject(errw, label, rec.Line, err)
			continue
		}
		for i := range evs {
			each(&evs[i])
		}
	}
}
