package event

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// TimeLayout is the JSON form of Event.Time: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes the contract form (see AppendJSON).
func (e *Event) MarshalJSON() ([]byte, error) {
	b, err := e.AppendJSON(make([]byte, 0, 512+len(e.Raw)))
	if err != nil {
		return nil, err
	}
	return b[:len(b)-1], nil
}

// AppendJSON appends the contract form of e and a newline to dst: every
// field present in contract order, time in TimeLayout, empty lists as []
// rather than null. Raw is written as it came when it is one line, and
// compacted when it spans lines, so that the output stays NDJSON. It fails
// only when Raw is not valid JSON.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, `","tenant":`...)
	dst = appendString(dst, e.Tenant)
	dst = append(dst, `,"source":`...)
	dst = appendString(dst, e.Source)
	dst = append(dst, `,"raw_type":`...)
	dst = appendString(dst, e.RawType)
	dst = append(dst, `,"action":`...)
	dst = appendString(dst, e.Action)
	dst = append(dst, `,"outcome":`...)
	dst = appendString(dst, e.Outcome)
	dst = append(dst, `,"reason":`...)
	dst = appendString(dst, e.Reason)
	a := &e.Actor
	dst = append(dst, `,"actor":{"id":`...)
	dst = appendString(dst, a.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, a.Type)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, a.Name)
	dst = append(dst, `,"email":`...)
	dst = appendString(dst, a.Email)
	dst = append(dst, `,"ip":`...)
	dst = appendString(dst, a.IP)
	dst = append(dst, `,"user_agent":`...)
	dst = appendString(dst, a.UserAgent)
	dst = append(dst, `},"targets":[`...)
	for i := range e.Targets {
		t := &e.Targets[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = appendString(dst, t.ID)
		dst = append(dst, `,"type":`...)
		dst = appendString(dst, t.Type)
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, t.Name)
		dst = append(dst, `,"email":`...)
		dst = appendString(dst, t.Email)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"changes":[`...)
	for i := range e.Changes {
		c := &e.Changes[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"field":`...)
		dst = appendString(dst, c.Field)
		dst = append(dst, `,"old":`...)
		dst = appendString(dst, c.Old)
		dst = append(dst, `,"new":`...)
		dst = appendString(dst, c.New)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"correlation_id":`...)
	dst = appendString(dst, e.CorrelationID)
	if e.Trimmed.Any() {
		dst = e.Trimmed.appendJSON(dst)
	}
	dst = append(dst, `,"raw":`...)
	raw := bytes.TrimSpace(e.Raw)
	switch {
	case len(raw) == 0:
		dst = append(dst, "null"...)
	case bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0:
		buf := bytes.NewBuffer(dst)
		if err := json.Compact(buf, raw); err != nil {
			return dst, fmt.Errorf("event %s: raw: %w", e.ID, err)
		}
		dst = buf.Bytes()
	default:
		dst = append(dst, raw...)
	}
	return append(dst, "}\n"...), nil
}

// appendJSON appends `,"trimmed":{...}` with the counts that are not zero.
func (t *Trimmed) appendJSON(dst []byte) []byte {
	dst = append(dst, `,"trimmed":{`...)
	sep := ""
	for _, f := range [...]struct {
		key string
		n   int
	}{{"targets", t.Targets}, {"changes", t.Changes}, {"strings", t.Strings}, {"unread", t.Unread}} {
		if f.n != 0 {
			dst = append(dst, sep+`"`+f.key+`":`...)
			dst = strconv.AppendInt(dst, int64(f.n), 10)
			sep = ","
		}
	}
	if t.Time != "" {
		dst = append(dst, sep+`"time":`...)
		dst = appendString(dst, t.Time)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028/U+2029
// escaped so that the line is also valid JavaScript.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

type alias Event

// UnmarshalJSON reads the contract form. The time may be any RFC 3339 form.
func (e *Event) UnmarshalJSON(b []byte) error {
	w := struct {
		Time string `json:"time"`
		*alias
	}{alias: (*alias)(e)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
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
