package synth

import (
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
)

// TestRecordsNormalize: every generated record is valid JSON of its source,
// normalizes to a mapped action most of the time, and is sized like the
// samples.
func TestRecordsNormalize(t *testing.T) {
	g := New(1, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Second, 100)
	bytesBySource := map[string]int{}
	countBySource := map[string]int{}
	actions := map[string]int{}
	var buf []byte
	for i := 0; i < 2000; i++ {
		var src string
		buf, src = g.Next(buf[:0], 0.5)
		if !json.Valid(buf) {
			t.Fatalf("record %d is not JSON: %s", i, buf)
		}
		got, err := source.Detect(buf)
		if err != nil || got != src {
			t.Fatalf("record %d detected as %q (%v), generated as %q", i, got, err, src)
		}
		evs, err := source.Auto{}.Normalize(nil, buf, "t")
		if err != nil || len(evs) != 1 {
			t.Fatalf("record %d: %v", i, err)
		}
		actions[evs[0].Action]++
		bytesBySource[src] += len(buf)
		countBySource[src]++
	}
	for src, n := range countBySource {
		if avg := bytesBySource[src] / n; avg < 900 || avg > 2500 {
			t.Errorf("%s records average %d bytes, want sample-like 900-2500", src, avg)
		}
	}
	for _, a := range []string{event.ActionUserLogin, event.ActionGroupMemberAdd, event.ActionUserCreate, event.ActionRoleGrant} {
		if actions[a] == 0 {
			t.Errorf("no %s in 2000 records: %v", a, actions)
		}
	}
}

func TestDeterministic(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	a, b := New(7, start, time.Second, 10), New(7, start, time.Second, 10)
	for i := 0; i < 100; i++ {
		x, _ := a.Next(nil, 0.6)
		y, _ := b.Next(nil, 0.6)
		if string(x) != string(y) {
			t.Fatalf("record %d differs for the same seed", i)
		}
	}
}
