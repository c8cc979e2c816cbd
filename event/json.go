package event

import (
	"fmt"
	"time"

	json "github.com/goccy/go-json"
)

// TimeLayout is the JSON form of Event.Time: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

type alias Event

// wire is Event with its time as text; it shadows alias.Time.
type wire struct {
	ID   string `json:"id"`
	Time string `json:"time"`
	*alias
}

// MarshalJSON writes the contract form: every field present, time in
// TimeLayout, empty lists as [] rather than null.
func (e *Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(e.wire())
}

// AppendJSON appends the contract form of e and a newline to dst.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	b, err := json.Marshal(e.wire())
	if err != nil {
		return dst, err
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}

func (e *Event) wire() *wire {
	c := *e
	if c.Targets == nil {
		c.Targets = []Target{}
	}
	if c.Changes == nil {
		c.Changes = []Change{}
	}
	if len(c.Raw) == 0 {
		c.Raw = []byte("null")
	}
	return &wire{ID: c.ID, Time: c.Time.UTC().Format(TimeLayout), alias: (*alias)(&c)}
}

// UnmarshalJSON reads the contract form. The time may be any RFC 3339 form.
func (e *Event) UnmarshalJSON(b []byte) error {
	w := wire{alias: (*alias)(e)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	e.ID = w.ID
	if w.Time == "" {
		return fmt.Errorf("canonical event: missing time")
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		return fmt.Errorf("canonical event: time: %w", err)
	}
	e.Time = t.UTC()
	return nil
}
