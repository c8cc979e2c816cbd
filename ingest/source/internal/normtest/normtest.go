// Package normtest has the helpers the normalizers' tests share: reading a
// line of a sample file and describing events compactly for assertions.
package normtest

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/scimwatch/scimwatch/event"
)

// Line returns line n (from 1) of an NDJSON file.
func Line(t testing.TB, path string, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for i := 1; sc.Scan(); i++ {
		if i == n {
			return append([]byte(nil), sc.Bytes()...)
		}
	}
	t.Fatalf("%s has no line %d", path, n)
	return nil
}

// Lines returns every non-empty line of an NDJSON file.
func Lines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, []byte(l))
		}
	}
	return out
}

// Targets describes targets as "type:id:name" strings, in order.
func Targets(ts []event.Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Type + ":" + t.ID + ":" + t.Name
	}
	return out
}

// Changes describes changes as "field:old->new" strings, in order.
func Changes(cs []event.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Field + ":" + c.Old + "->" + c.New
	}
	return out
}

// Shape is what a test says of one normalized event: its raw type,
// action, outcome, actor id and targets (as Targets gives them).
type Shape struct {
	RawType, Action, Outcome, Actor string
	Targets                         []string
}

// CheckShape reports where e differs from want; where names the record.
func CheckShape(t testing.TB, where string, e event.Event, want Shape) {
	t.Helper()
	if got, exp := []string{e.RawType, e.Action, e.Outcome, e.Actor.ID}, []string{want.RawType, want.Action, want.Outcome, want.Actor}; !slices.Equal(got, exp) {
		t.Errorf("%s: raw_type, action, outcome, actor = %q, want %q", where, got, exp)
	}
	if ts := Targets(e.Targets); !slices.Equal(ts, want.Targets) {
		t.Errorf("%s: targets = %q, want %q", where, ts, want.Targets)
	}
}
