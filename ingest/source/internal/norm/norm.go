// Package norm holds the small helpers every source normalizer shares:
// lenient time parsing, stable ids for records without one, and text
// clean-up of the values sources send.
package norm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	json "github.com/goccy/go-json"
)

// ErrNoTime is returned by ParseTime for an empty time.
var ErrNoTime = errors.New("missing time")

// layouts are tried in order after RFC 3339. Sources and exports differ:
// Okta sends RFC 3339 with milliseconds, SIEM exports write
// "2022-03-22 14:21:53.225" (no zone, UTC), Entra sends 7 decimals.
var layouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	// Azure's US form, in some Azure Monitor columns: 8/22/2022 6:11:52 PM.
	"1/2/2006 3:04:05 PM",
}

// ParseTime parses the time forms sources send and returns it in UTC.
// A time without a zone is taken as UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, ErrNoTime
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised time %q", s)
}

// HashID returns a stable id for a record that has none: the SHA-256 of its
// compacted JSON (so whitespace does not change it), as 32 hex digits.
func HashID(raw []byte) string {
	var buf bytes.Buffer
	src := raw
	if err := json.Compact(&buf, raw); err == nil {
		src = buf.Bytes()
	}
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:16])
}

// First returns the first non-empty string.
func First(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Email returns s when it looks like an address (has an @), else "".
func Email(s string) string {
	if strings.IndexByte(s, '@') > 0 {
		return s
	}
	return ""
}

// NullString maps the placeholder strings some exports write for absent
// values ("null", "None", "N/A") to "".
func NullString(s string) string {
	switch s {
	case "null", "NULL", "None", "N/A", "n/a", "<null>":
		return ""
	}
	return s
}

// Bool reads the booleans sources send: JSON true/false, or the strings
// "true"/"True"/"false"/"False". ok is false for anything else.
func Bool(raw []byte) (v, ok bool) {
	s := strings.TrimSpace(string(raw))
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// Text turns a JSON value into change text: a string is unquoted, a
// boolean or number is written as is, null is "", and an array or object
// is kept as compact JSON.
func Text(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err == nil {
		return buf.String()
	}
	return string(raw)
}

// EncodedText decodes a value that a source JSON-encoded into a string, as
// Entra's modifiedProperties do ("[\"Member\"]", "\"12345\"", "True"):
// a JSON string inside is unquoted, a one-element array of scalars is
// unwrapped and an empty one is "", booleans are lower-cased, anything else is kept as compact
// JSON, and text that is not JSON is kept verbatim.
func EncodedText(s string) string {
	t := strings.TrimSpace(s)
	switch t {
	case "True", "TRUE":
		return "true"
	case "False", "FALSE":
		return "false"
	}
	if t == "" || (t[0] != '"' && t[0] != '[' && t[0] != '{') {
		return s
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return s
	}
	if a, ok := v.([]any); ok && len(a) <= 1 {
		if len(a) == 0 {
			return ""
		}
		v = a[0]
	}
	switch x := v.(type) {
	case string:
		return EncodedText(x)
	case nil:
		return ""
	case bool, float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return s
	}
	return string(b)
}
