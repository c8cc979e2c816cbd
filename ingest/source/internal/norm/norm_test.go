package norm

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2022, 3, 22, 14, 21, 53, 225e6, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "2022-03-22T14:21:53.225Z", want: want},
		{in: "2022-03-22 14:21:53.225", want: want},
		{in: "2022-03-22 14:21:53.225000000", want: want},
		{in: "2022-03-22T14:21:53.2250000Z", want: want},
		{in: "2022-03-22T14:21:53.2250000+00:00", want: want},
		{in: "2022-03-22T16:21:53.225+02:00", want: want},
		{in: "2022-03-22T14:21:53.225", want: want},
		{in: " 2022-03-22T14:21:53.225Z ", want: want},
		{in: "", err: "missing time"},
		{in: "redacted", err: `unrecognised time "redacted"`},
		{in: "2022-13-22T14:21:53Z", err: "unrecognised time"},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTime(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v UTC", tt.in, got, err, tt.want)
		}
	}
}

func TestEncodedText(t *testing.T) {
	for in, want := range map[string]string{
		`"[\"Member\"]"`:          "Member", // encoded twice
		`["Member"]`:              "Member",
		`["a","b"]`:               `["a","b"]`,
		`[]`:                      "",
		`"12345"`:                 "12345",
		`""`:                      "",
		`[true]`:                  "true",
		`True`:                    "true",
		`False`:                   "false",
		`plain text`:              "plain text",
		`{"b":1,"a":2}`:           `{"a":2,"b":1}`,
		`[{"Default": true}]`:     `{"Default":true}`,
		`"\"nested\""`:            "nested",
		`[not json`:               "[not json",
		`null`:                    "null",
		`[null]`:                  "",
		`[1.5]`:                   "1.5",
		`"[\"x\"]"` + "\n" + `  `: "x",
	} {
		if got := EncodedText(in); got != want {
			t.Errorf("EncodedText(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestBoolAndText(t *testing.T) {
	for in, want := range map[string][2]bool{
		`true`: {true, true}, `"True"`: {true, true}, `"false"`: {false, true}, `False`: {false, true},
		`"yes"`: {false, false}, `1`: {false, false}, ``: {false, false},
	} {
		v, ok := Bool([]byte(in))
		if v != want[0] || ok != want[1] {
			t.Errorf("Bool(%s) = %v, %v; want %v", in, v, ok, want)
		}
	}
	for in, want := range map[string]string{
		`"a\"b"`: `a"b`, `12`: "12", `null`: "", ``: "", `{ "a" : [1, 2] }`: `{"a":[1,2]}`, `false`: "false",
	} {
		if got := Text([]byte(in)); got != want {
			t.Errorf("Text(%s) = %q, want %q", in, got, want)
		}
	}
	var n FlexInt
	for in, want := range map[string]int{`200`: 200, `"409"`: 409, `"x"`: 0, `1e99`: 0, `null`: 0, `-3`: -3} {
		_ = n.UnmarshalJSON([]byte(in))
		if int(n) != want {
			t.Errorf("FlexInt(%s) = %d, want %d", in, n, want)
		}
	}
}
