package normtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/scimwatch/scimwatch/event"
)

// Seed adds every line of the NDJSON files and every whole JSON file in dir
// to f's seed corpus.
func Seed(f *testing.F, dir string) {
	f.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	for _, p := range paths {
		for _, l := range Lines(f, p) {
			f.Add(l)
		}
	}
	paths, _ = filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// CheckEvents fails t when an event a normalizer returned breaks the
// contract: every event has an id, a time, a source, a raw type, an action
// of the vocabulary, a known outcome and actor type, and encodes.
func CheckEvents(t *testing.T, evs []event.Event) {
	t.Helper()
	for i := range evs {
		e := &evs[i]
		switch {
		case e.ID == "":
			t.Errorf("event %d has no id", i)
		case e.Time.IsZero():
			t.Errorf("event %d has no time", i)
		case e.Source == "" || e.RawType == "":
			t.Errorf("event %d: source %q raw_type %q", i, e.Source, e.RawType)
		case !event.ValidAction(e.Action):
			t.Errorf("event %d: action %q", i, e.Action)
		case e.Outcome != event.OutcomeSuccess && e.Outcome != event.OutcomeFailure && e.Outcome != event.OutcomeUnknown:
			t.Errorf("event %d: outcome %q", i, e.Outcome)
		case e.Actor.Type != event.ActorUser && e.Actor.Type != event.ActorApp && e.Actor.Type != event.ActorSystem:
			t.Errorf("event %d: actor type %q", i, e.Actor.Type)
		}
		b, err := e.MarshalJSON()
		if err != nil {
			t.Errorf("event %d does not encode: %v", i, err)
		} else if !json.Valid(b) {
			t.Errorf("event %d encodes to invalid JSON: %s", i, b)
		}
	}
}
