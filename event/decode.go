package event

import (
	"bytes"
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// RawMode says what Decode does with the raw field.
type RawMode int

const (
	// RawCopy keeps raw as a copy, checked to be valid JSON.
	RawCopy RawMode = iota
	// RawAlias keeps raw as a slice of the input, checked to be valid JSON.
	RawAlias
	// RawSkip leaves Raw nil and, when raw comes after every other field
	// (as AppendJSON writes it), does not read it at all: replay and
	// detection do not need the original record, and it is most of the
	// bytes.
	RawSkip
)

// errSlow sends Decode to the general decoder.
var errSlow = errors.New("not the fast path")

// Decode reads one canonical event from b into *e, which it resets. Fields
// may come in any order and unknown keys are ignored; the form AppendJSON
// writes (fields in contract order, strings without escapes, times in
// TimeLayout) is read by a decoder that makes one pass and allocates only
// the strings it keeps, and anything else by the general JSON decoder, with
// its errors.
func Decode(e *Event, b []byte, raw RawMode) error {
	*e = Event{}
	d := decoder{b: b}
	err := d.event(e, raw)
	if err == nil {
		return nil
	}
	*e = Event{}
	if err := e.UnmarshalJSON(b); err != nil {
		return err
	}
	switch raw {
	case RawSkip:
		e.Raw = nil
	case RawAlias:
		// UnmarshalJSON copied it; the copy will do.
	}
	return nil
}

// decoder is the fast path: any surprise returns errSlow.
type decoder struct {
	b []byte
	i int
}

// The keys of the contract, as bits: when every one but raw was read, raw
// is the rest of the object and need not be read.
const (
	hasID = 1 << iota
	hasTime
	hasTenant
	hasSource
	hasRawType
	hasAction
	hasOutcome
	hasReason
	hasActor
	hasTargets
	hasChanges
	hasCorrelation
	hasAllButRaw = 1<<iota - 1
)

func (d *decoder) event(e *Event, raw RawMode) error {
	if !d.consume('{') {
		return errSlow
	}
	seen := 0
	for first := true; ; first = false {
		if d.consume('}') {
			if seen&hasTime == 0 {
				return errSlow // the general decoder says what is missing
			}
			return d.end()
		}
		if !first && !d.consume(',') {
			return errSlow
		}
		key, ok := d.key()
		if !ok {
			return errSlow
		}
		var err error
		switch string(key) { // compared in place, not allocated
		case "id":
			e.ID, err = d.str()
			seen |= hasID
		case "time":
			e.Time, err = d.time()
			seen |= hasTime
		case "tenant":
			e.Tenant, err = d.str()
			seen |= hasTenant
		case "source":
			e.Source, err = d.interned()
			seen |= hasSource
		case "raw_type":
			e.RawType, err = d.str()
			seen |= hasRawType
		case "action":
			e.Action, err = d.interned()
			seen |= hasAction
		case "outcome":
			e.Outcome, err = d.interned()
			seen |= hasOutcome
		case "reason":
			e.Reason, err = d.str()
			seen |= hasReason
		case "actor":
			err = d.actor(&e.Actor)
			seen |= hasActor
		case "targets":
			e.Targets, err = d.targets()
			seen |= hasTargets
		case "changes":
			e.Changes, err = d.changes()
			seen |= hasChanges
		case "correlation_id":
			e.CorrelationID, err = d.str()
			seen |= hasCorrelation
		case "trimmed":
			return errSlow // rare: the general decoder reads it
		case "raw":
			if raw == RawSkip && seen == hasAllButRaw {
				return nil // the framing found the record's end
			}
			err = d.rawValue(e, raw)
		default:
			err = d.unknown(key, eventKeys)
		}
		if err != nil {
			return err
		}
	}
}

// The keys of each object, for matching keys in another case as the
// general decoder does (encoding/json's rule): the fast path leaves those
// to it.
var (
	eventKeys  = []string{"id", "time", "tenant", "source", "raw_type", "action", "outcome", "reason", "actor", "targets", "changes", "correlation_id", "trimmed", "raw"}
	actorKeys  = []string{"id", "type", "name", "email", "ip", "user_agent"}
	targetKeys = []string{"id", "type", "name", "email"}
	changeKeys = []string{"field", "old", "new"}
)

// unknown steps over the value of a key the object does not have, checked
// to be valid JSON as the general decoder would.
func (d *decoder) unknown(key []byte, known []string) error {
	for _, k := range known {
		if bytes.EqualFold(key, []byte(k)) {
			return errSlow
		}
	}
	d.space()
	start := d.i
	if err := d.skip(); err != nil {
		return err
	}
	if !json.Valid(d.b[start:d.i]) {
		return errSlow
	}
	return nil
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) consume(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *decoder) end() error {
	d.space()
	if d.i != len(d.b) {
		return errSlow
	}
	return nil
}

// span returns the bytes of a string without escapes, or false.
func (d *decoder) span() ([]byte, bool) {
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		if c := d.b[j]; strStop[c] {
			if c != '"' {
				return nil, false // an escape or a control character
			}
			d.i = j + 1
			return d.b[start:j], true
		}
	}
	return nil, false
}

// strStop marks the bytes that end the fast reading of a string.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func (d *decoder) key() ([]byte, bool) {
	s, ok := d.span()
	if !ok || !d.consume(':') {
		return nil, false
	}
	return s, true
}

// str reads a string value, or null as "".
func (d *decoder) str() (string, error) {
	if d.null() {
		return "", nil
	}
	s, ok := d.span()
	if !ok {
		return "", errSlow
	}
	if !utf8.Valid(s) {
		return "", errSlow
	}
	return string(s), nil
}

// interned reads a value of the vocabulary without allocating.
func (d *decoder) interned() (string, error) {
	if d.null() {
		return "", nil
	}
	s, ok := d.span()
	if !ok {
		return "", errSlow
	}
	if v, ok := vocabulary[string(s)]; ok {
		return v, nil
	}
	if !utf8.Valid(s) {
		return "", errSlow
	}
	return string(s), nil
}

var vocabulary = func() map[string]string {
	m := map[string]string{}
	for _, s := range append(slices.Clip(Actions), SourceOkta, SourceEntra, SourceSCIM, SourceGWorkspace, OutcomeSuccess, OutcomeFailure, OutcomeUnknown,
		ActorUser, ActorApp, ActorSystem, TargetUser, TargetAppUser, TargetGroup, TargetApp, TargetRole, TargetCredential, TargetOther) {
		m[s] = s
	}
	return m
}()

func (d *decoder) null() bool {
	d.space()
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

// time reads TimeLayout exactly; any other form goes the slow way.
func (d *decoder) time() (time.Time, error) {
	s, ok := d.span()
	if !ok || len(s) != len(TimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z' {
		return time.Time{}, errSlow
	}
	n := func(from, to int) int {
		v := 0
		for _, c := range s[from:to] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, dd, h, mi, sec, ms := n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19), n(20, 23)
	if y < 0 || mo < 1 || mo > 12 || dd < 1 || dd > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0 {
		return time.Time{}, errSlow
	}
	t := time.Date(y, time.Month(mo), dd, h, mi, sec, ms*int(time.Millisecond), time.UTC)
	if t.Day() != dd { // 31 November
		return time.Time{}, errSlow
	}
	return t, nil
}

// fields reads an object of string fields, keys known, into the pointers
// set returns.
func (d *decoder) fields(known []string, set func(key []byte) *string) error {
	if !d.consume('{') {
		return errSlow
	}
	for first := true; ; first = false {
		if d.consume('}') {
			return nil
		}
		if !first && !d.consume(',') {
			return errSlow
		}
		key, ok := d.key()
		if !ok {
			return errSlow
		}
		p := set(key)
		if p == nil {
			if err := d.unknown(key, known); err != nil {
				return err
			}
			continue
		}
		var err error
		if string(key) == "type" {
			*p, err = d.interned()
		} else {
			*p, err = d.str()
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) actor(a *Actor) error {
	if d.null() {
		return nil
	}
	return d.fields(actorKeys, func(k []byte) *string {
		switch string(k) {
		case "id":
			return &a.ID
		case "type":
			return &a.Type
		case "name":
			return &a.Name
		case "email":
			return &a.Email
		case "ip":
			return &a.IP
		case "user_agent":
			return &a.UserAgent
		}
		return nil
	})
}

// array reads an array, calling elem for each element.
func (d *decoder) array(elem func() error) error {
	if d.null() {
		return nil
	}
	if !d.consume('[') {
		return errSlow
	}
	for first := true; ; first = false {
		if d.consume(']') {
			return nil
		}
		if !first && !d.consume(',') {
			return errSlow
		}
		if err := elem(); err != nil {
			return err
		}
	}
}

func (d *decoder) targets() ([]Target, error) {
	var out []Target
	err := d.array(func() error {
		out = append(out, Target{})
		t := &out[len(out)-1]
		return d.fields(targetKeys, func(k []byte) *string {
			switch string(k) {
			case "id":
				return &t.ID
			case "type":
				return &t.Type
			case "name":
				return &t.Name
			case "email":
				return &t.Email
			}
			return nil
		})
	})
	return out, err
}

func (d *decoder) changes() ([]Change, error) {
	var out []Change
	err := d.array(func() error {
		out = append(out, Change{})
		c := &out[len(out)-1]
		return d.fields(changeKeys, func(k []byte) *string {
			switch string(k) {
			case "field":
				return &c.Field
			case "old":
				return &c.Old
			case "new":
				return &c.New
			}
			return nil
		})
	})
	return out, err
}

// rawValue reads raw, checked to be valid JSON.
func (d *decoder) rawValue(e *Event, mode RawMode) error {
	d.space()
	start := d.i
	if err := d.skip(); err != nil {
		return err
	}
	v := d.b[start:d.i]
	if !json.Valid(v) {
		return errSlow
	}
	switch {
	case bytes.Equal(v, []byte("null")) || mode == RawSkip:
	case mode == RawAlias:
		e.Raw = v
	default:
		e.Raw = bytes.Clone(v)
	}
	return nil
}

// skip steps over one value, tracking strings and nesting only (raw is
// checked with json.Valid where it is kept; values of unknown keys are
// dropped).
func (d *decoder) skip() error {
	d.space()
	depth, inStr := 0, false
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case inStr:
			switch c {
			case '\\':
				d.i++
			case '"':
				inStr = false
				if depth == 0 {
					d.i++
					return nil
				}
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return nil // the end of the enclosing value: a scalar ended
			}
			if depth--; depth == 0 {
				d.i++
				return nil
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r'):
			return nil
		}
		d.i++
	}
	return errSlow
}
