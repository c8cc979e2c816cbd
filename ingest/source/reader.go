package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// DefaultMaxRecord is the largest record Reader accepts by default. Event
// Hubs batches are at most 1 MiB and Okta Event Hook deliveries smaller.
const DefaultMaxRecord = 8 << 20

// RecordError is a record the Reader could not frame. Reading goes on after
// it: call Next again.
type RecordError struct {
	Line    int // first line of the bad input, from 1
	EndLine int // last line, when the error covers several
	Err     error
}

func (e *RecordError) Error() string {
	if e.EndLine > e.Line {
		return fmt.Sprintf("lines %d-%d: %v", e.Line, e.EndLine, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Errors a RecordError wraps.
var (
	ErrNotJSON      = errors.New("not a JSON object or array")
	ErrBinary       = errors.New("binary data, not JSON")
	ErrTruncated    = errors.New("truncated: the JSON value that starts on this line is never closed (the lines after it are read on their own)")
	ErrTooLarge     = errors.New("record too large")
	ErrInvalidJSON  = errors.New("invalid JSON")
	ErrBadSeparator = errors.New("expected ',' or ']' between array elements")
	ErrUnterminated = errors.New("unterminated JSON value at end of input")
)

// Record is one framed JSON value. Data aliases the Reader's buffer and is
// valid until the next call to Next.
type Record struct {
	Data []byte
	Line int // line of its first byte, from 1
}

// Reader frames a stream of JSON records: NDJSON, concatenated or
// pretty-printed objects, and top-level arrays of objects, read as a stream
// so that memory stays bounded by the largest record, not the input.
//
// Objects inside a top-level array come out one by one. Wrappers such as
// {"records": [...]} are single records: the normalizers unwrap them.
type Reader struct {
	src  io.Reader
	max  int
	buf  []byte
	pos  int // next unread byte
	n    int // end of valid data
	eof  bool
	rerr error
	line int // line of buf[pos]

	inArray   bool // inside a top-level array
	first     bool // no element read yet in the array
	arrayLine int  // line of the array's '['
}

// NewReader returns a Reader of src that rejects records over max bytes
// (DefaultMaxRecord when max <= 0).
func NewReader(src io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	size := 64 << 10
	if size > max+1 {
		size = max + 1
	}
	return &Reader{src: src, max: max, buf: make([]byte, size), line: 1}
}

// Next returns the next record. At the end of input it returns io.EOF. A
// *RecordError reports bad input that was skipped; call Next again to go
// on. Any other error is the source's and is final.
func (r *Reader) Next() (Record, error) {
	for {
		c, ok := r.skipSpace()
		if !ok {
			if r.rerr != nil {
				return Record{}, r.rerr
			}
			if r.inArray {
				r.inArray = false
				return Record{}, &RecordError{Line: r.arrayLine, Err: errors.New("array not closed at end of input")}
			}
			return Record{}, io.EOF
		}
		if r.inArray {
			switch {
			case c == ']':
				r.pos++
				r.inArray = false
				continue
			case !r.first:
				if c != ',' {
					r.inArray = false
					return Record{}, r.skipLine(ErrBadSeparator)
				}
				r.pos++
				if c, ok = r.skipSpace(); !ok {
					continue
				}
			}
			r.first = false
			if !startsValue(c) {
				r.inArray = false
				return Record{}, r.skipLine(ErrInvalidJSON)
			}
			return r.value(c, true)
		}
		switch c {
		case '[':
			r.pos++
			r.inArray, r.first, r.arrayLine = true, true, r.line
			continue
		case '{':
			if rec, ok := r.ndjsonLine(); ok {
				return rec, nil
			}
			return r.value(c, false)
		case 0xEF: // UTF-8 byte order mark
			if r.fill(3) >= 3 && bytes.Equal(r.buf[r.pos:r.pos+3], []byte("\xEF\xBB\xBF")) {
				r.pos += 3
				continue
			}
		}
		return Record{}, r.skipJunk()
	}
}

// ndjsonLine is NDJSON's fast path: a line that starts an object at buf[pos],
// ends with '}' and balances its braces and brackets is taken as one
// record without scanning its structure (the normalizer's decoder checks
// it). Anything else (a pretty-printed object's first line, a truncated
// line, several objects on one line) is left to value.
func (r *Reader) ndjsonLine() (Record, bool) {
	for off := 0; ; {
		end := -1
		if i := bytes.IndexByte(r.buf[r.pos+off:r.n], '\n'); i >= 0 {
			end = r.pos + off + i
		} else {
			off = r.n - r.pos
			if off > r.max {
				return Record{}, false
			}
			if r.fill(off+1) > off {
				continue
			}
			end = r.n // the last line, without a newline
		}
		data := bytes.TrimRight(r.buf[r.pos:end], " \t\r")
		if len(data) > r.max || len(data) < 2 || data[len(data)-1] != '}' ||
			bytes.Count(data, []byte{'{'}) != bytes.Count(data, []byte{'}'}) ||
			bytes.Count(data, []byte{'['}) != bytes.Count(data, []byte{']'}) || maySpanValues(data) {
			return Record{}, false
		}
		r.pos = end
		return Record{Data: data, Line: r.line}, true
	}
}

// maySpanValues reports whether a '}' of data is followed by the start of
// another value ({"a":1}{"b":2}, or {"a":1} {"b":2}): concatenated objects
// on one line, which value frames one by one. A string holding "}{" is
// taken the slow way too.
func maySpanValues(data []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '}')
		if j < 0 {
			return false
		}
		k := i + j + 1
		for k < len(data) && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r') {
			k++
		}
		if k < len(data) && (data[k] == '{' || data[k] == '[' || data[k] == '"') {
			return true
		}
		i = i + j + 1
	}
}

// value frames the JSON value starting at buf[pos] (first byte c).
func (r *Reader) value(c byte, inArray bool) (Record, error) {
	line := r.line
	end, err := r.scan(c)
	if err != nil {
		r.inArray = false
		if err == ErrUnterminated && bytes.IndexByte(bytes.TrimRight(r.buf[r.pos:r.n], " \t\r\n"), '\n') >= 0 {
			err = ErrTruncated // not the end of the input: lines follow
		}
		return Record{}, r.skipFrame(line, err)
	}
	data := r.buf[r.pos:end]
	nl := bytes.Count(data, []byte{'\n'})
	// A top-level object spanning lines may be NDJSON with a truncated line
	// that swallowed the records after it. Check it, and when it is not
	// valid report its first line and go on from the next one.
	if nl > 0 && !inArray && !json.Valid(data) {
		return Record{}, r.skipFrame(line, ErrInvalidJSON)
	}
	r.pos = end
	r.line += nl
	return Record{Data: data, Line: line}, nil
}

// scan returns the end of the value at buf[pos], reading more input as
// needed, or ErrTooLarge. It tracks nesting and strings only; the
// normalizer's decoder checks the rest.
func (r *Reader) scan(c byte) (int, error) {
	st := scanState{scalar: c != '{' && c != '['}
	i := r.pos
	for {
		end, ok := st.run(r.buf[:r.n], i)
		if ok {
			return end, nil
		}
		off := end - r.pos
		if off >= r.max {
			return 0, ErrTooLarge
		}
		if r.fill(off+1) <= off {
			if st.scalar && !st.inStr {
				return r.n, nil
			}
			return 0, ErrUnterminated
		}
		i = r.pos + off
	}
}

// scanState is the state of scan between buffer refills.
type scanState struct {
	depth          int
	scalar         bool
	inStr, escaped bool
}

// special marks the bytes scan looks at outside strings (structure) and
// strSpecial those inside them (end and escape).
var special, strSpecial [256]bool

func init() {
	for _, c := range []byte(`{}[]"`) {
		special[c] = true
	}
	strSpecial['"'], strSpecial['\\'] = true, true
}

// run scans b from i. It returns the end of the value and true, or how far
// it got and false when b ends first.
func (s *scanState) run(b []byte, i int) (int, bool) {
	for i < len(b) {
		switch {
		case s.escaped:
			s.escaped = false
			i++
		case s.inStr:
			for i < len(b) && !strSpecial[b[i]] {
				i++
			}
			if i == len(b) {
				return i, false
			}
			if b[i] == '\\' {
				s.escaped = true
			} else {
				s.inStr = false
				if s.scalar {
					return i + 1, true
				}
			}
			i++
		case s.scalar:
			switch b[i] {
			case '"':
				s.inStr = true
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				return i, true
			}
			i++
		default:
			for i < len(b) && !special[b[i]] {
				i++
			}
			if i == len(b) {
				return i, false
			}
			switch b[i] {
			case '"':
				s.inStr = true
			case '{', '[':
				s.depth++
			case '}', ']':
				s.depth--
				if s.depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
	}
	return i, false
}

// skipFrame reports a bad record that starts at buf[pos] on line and goes on
// from the line after its first line.
func (r *Reader) skipFrame(line int, err error) error {
	for {
		if i := bytes.IndexByte(r.buf[r.pos:r.n], '\n'); i >= 0 {
			r.pos += i + 1
			r.line++
			return &RecordError{Line: line, Err: err}
		}
		r.pos = r.n // drop what has no newline: memory stays bounded
		if r.fill(1) == 0 {
			return &RecordError{Line: line, Err: err}
		}
	}
}

// skipLine reports err on the current line and goes on from the next.
func (r *Reader) skipLine(err error) error { return r.skipFrame(r.line, err) }

// skipJunk skips lines that do not start a JSON object or array, reporting
// a run of them as one error.
func (r *Reader) skipJunk() error {
	start := r.line
	why := ErrNotJSON
	if r.fill(512) > 0 && looksBinary(r.buf[r.pos:min(r.n, r.pos+512)]) {
		why = ErrBinary
	}
	for {
		last := r.line
		_ = r.skipLine(nil)
		if c, ok := r.skipSpace(); !ok || c == '{' || c == '[' {
			return &RecordError{Line: start, EndLine: last, Err: why}
		}
	}
}

// looksBinary reports whether b has a NUL byte or is not UTF-8 (the end
// may cut a character).
func looksBinary(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 && len(b) >= utf8.UTFMax {
			return true
		}
		b = b[size:]
	}
	return false
}

// startsValue reports whether c can start a JSON value.
func startsValue(c byte) bool {
	switch c {
	case '{', '[', '"', '-', 't', 'f', 'n':
		return true
	}
	return c >= '0' && c <= '9'
}

// skipSpace skips whitespace, counting lines, and returns the next byte.
func (r *Reader) skipSpace() (byte, bool) {
	for {
		for r.pos < r.n {
			switch c := r.buf[r.pos]; c {
			case '\n':
				r.line++
				fallthrough
			case ' ', '\t', '\r':
				r.pos++
			default:
				return c, true
			}
		}
		if r.fill(1) == 0 {
			return 0, false
		}
	}
}

// fill makes at least want bytes available from pos, reading as needed, and
// returns how many are. It moves unread data to the front and grows the
// buffer up to max+1.
func (r *Reader) fill(want int) int {
	for r.n-r.pos < want && !r.eof {
		if r.pos > 0 && r.n+(want-(r.n-r.pos)) > len(r.buf) {
			r.n = copy(r.buf, r.buf[r.pos:r.n])
			r.pos = 0
		}
		if r.n == len(r.buf) {
			size := 2 * len(r.buf)
			if size > r.max+1 {
				size = r.max + 1
			}
			if size <= len(r.buf) {
				break
			}
			nb := make([]byte, size)
			copy(nb, r.buf[:r.n])
			r.buf = nb
		}
		m, err := r.src.Read(r.buf[r.n:])
		r.n += m
		if err != nil {
			r.eof = true
			if err != io.EOF {
				r.rerr = err
			}
		}
	}
	return r.n - r.pos
}
