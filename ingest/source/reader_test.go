package source

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// frames reads everything from r and describes each result as
// "LINE:DATA" for a record and "LINE!error" for a RecordError.
func frames(t *testing.T, r *Reader) []string {
	t.Helper()
	var out []string
	for i := 0; i < 1000; i++ {
		rec, err := r.Next()
		var re *RecordError
		switch {
		case err == io.EOF:
			return out
		case errors.As(err, &re):
			out = append(out, fmt.Sprintf("%d!%v", re.Line, re))
		case err != nil:
			t.Fatal(err)
		default:
			out = append(out, fmt.Sprintf("%d:%s", rec.Line, rec.Data))
		}
	}
	t.Fatal("reader does not end")
	return nil
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"NDJSON", "{\"a\":1}\n{\"b\":2}\n", 0, []string{`1:{"a":1}`, `2:{"b":2}`}},
		{"CRLF, blank lines, no final newline", "{\"a\":1}\r\n\r\n\n{\"b\":2}", 0, []string{`1:{"a":1}`, `4:{"b":2}`}},
		{"concatenated", `{"a":1}{"b":2} {"c":3}`, 0, []string{`1:{"a":1}`, `1:{"b":2}`, `1:{"c":3}`}},
		{"pretty-printed", "{\n  \"a\": {\n    \"b\": \"}\"\n  }\n}\n{\"c\":1}", 0,
			[]string{"1:{\n  \"a\": {\n    \"b\": \"}\"\n  }\n}", `6:{"c":1}`}},
		{"escaped quotes and braces in strings", `{"a":"x\"}{\\"}` + "\n" + `{"b":"\\"}`, 0,
			[]string{`1:{"a":"x\"}{\\"}`, `2:{"b":"\\"}`}},
		{"array of objects", "[\n {\"a\":1},\n {\"b\":[1,2]}\n]\n{\"c\":3}", 0,
			[]string{`2:{"a":1}`, `3:{"b":[1,2]}`, `5:{"c":3}`}},
		{"empty array", "[]\n[ ]\n{\"a\":1}", 0, []string{`3:{"a":1}`}},
		{"array of scalars comes out for the normalizer to reject", `[1, "x", true]`, 0, []string{`1:1`, `1:"x"`, `1:true`}},
		{"wrapper is one record", `{"records":[{"a":1},{"b":2}]}`, 0, []string{`1:{"records":[{"a":1},{"b":2}]}`}},
		{"byte order mark", "\xEF\xBB\xBF{\"a\":1}", 0, []string{`1:{"a":1}`}},
		{"junk lines are one error", "{\"a\":1}\nfoo\nbar\n\n{\"b\":2}\nbaz", 0,
			[]string{`1:{"a":1}`, "2!lines 2-3: not a JSON object or array", `5:{"b":2}`, "6!line 6: not a JSON object or array"}},
		{"truncated NDJSON line does not swallow the next", "{\"a\":1,\"b\":\n{\"c\":3}\n{\"d\":4}\n", 0,
			[]string{"1!line 1: truncated: the JSON value that starts on this line is never closed (the lines after it are read on their own)", `2:{"c":3}`, `3:{"d":4}`}},
		{"balanced but invalid multi-line frame", "{\"a\":{\"b\" 1}\n{\"c\":3}}\n{\"d\":4}\n", 0,
			[]string{"1!line 1: invalid JSON", `2:{"c":3}`, "2!line 2: not a JSON object or array", `3:{"d":4}`}},
		{"unterminated last record", "{\"a\":1}\n{\"b\":", 0,
			[]string{`1:{"a":1}`, "2!line 2: unterminated JSON value at end of input"}},
		{"bad separator in array", "[{\"a\":1} {\"b\":2}]\n{\"c\":3}", 0,
			[]string{`1:{"a":1}`, "1!line 1: expected ',' or ']' between array elements", `2:{"c":3}`}},
		{"unclosed array", "[{\"a\":1},\n", 0, []string{`1:{"a":1}`, "1!line 1: array not closed at end of input"}},
		{"stray closer in array", "[}\n{\"a\":1}", 0, []string{"1!line 1: invalid JSON", `2:{"a":1}`}},
		{"record over the limit, on one line", `{"a":"` + strings.Repeat("x", 100) + "\"}\n{\"b\":2}", 64,
			[]string{"1!line 1: record too large", `2:{"b":2}`}},
		{"record at the limit", `{"a":"` + strings.Repeat("x", 56) + `"}`, 64,
			[]string{`1:{"a":"` + strings.Repeat("x", 56) + `"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readers := map[string]io.Reader{
				"whole":    strings.NewReader(tt.in),
				"one-byte": iotest.OneByteReader(strings.NewReader(tt.in)),
				"half":     iotest.HalfReader(strings.NewReader(tt.in)),
			}
			for kind, src := range readers {
				if got := frames(t, NewReader(src, tt.max)); !slices.Equal(got, tt.want) {
					t.Errorf("%s reads:\n got %q\nwant %q", kind, got, tt.want)
				}
			}
		})
	}
}

func TestReaderSourceError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := NewReader(io.MultiReader(strings.NewReader(`{"a":1}`+"\n"), iotest.ErrReader(boom)), 0)
	if rec, err := r.Next(); err != nil || string(rec.Data) != `{"a":1}` {
		t.Fatalf("first record: %q, %v", rec.Data, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("error %v, want the source's", err)
	}
}

// TestReaderLargeStream reads many records through buffer refills and
// growth, and checks none is lost or mangled.
func TestReaderLargeStream(t *testing.T) {
	var b strings.Builder
	const n = 20000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"i":%d,"pad":"%s"}`+"\n", i, strings.Repeat("p", i%300))
	}
	r := NewReader(iotest.HalfReader(strings.NewReader(b.String())), 0)
	for i := 0; i < n; i++ {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		want := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("p", i%300))
		if string(rec.Data) != want || rec.Line != i+1 {
			t.Fatalf("record %d: line %d %.40q", i, rec.Line, rec.Data)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last record: %v", err)
	}
}
