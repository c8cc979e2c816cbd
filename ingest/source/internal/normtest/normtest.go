// Package normtest has the helpers the normalizers' tests share: reading a
// line of a sample file and describing events compactly for assertions.
package normtest

import (
	"bufio"
	"os"
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
