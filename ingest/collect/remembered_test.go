package collect

import (
	"fmt"
	"testing"
	"time"
)

// TestRememberedIsBounded: a flood of new ids keeps at most max, the
// oldest forgotten first; ids older than forgetBefore's time go.
func TestRememberedIsBounded(t *testing.T) {
	r := newRemembered(1000)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100000 {
		r.add(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))
		if r.len() > 1000 {
			t.Fatalf("%d ids after %d, bound 1000", r.len(), i+1)
		}
	}
	if !r.has("99999") || r.has("98999") || !r.has("99000") {
		t.Error("not the newest 1000 kept")
	}
	r.add("99999", t0) // known: not added again
	if r.len() != 1000 {
		t.Errorf("%d ids", r.len())
	}
	r.forgetBefore(t0.Add(99990 * time.Second))
	if r.len() != 10 || r.has("99989") || !r.has("99990") {
		t.Errorf("after forgetBefore: %d ids", r.len())
	}
}
