package gworkspace

import (
	"testing"

	"github.com/scimwatch/scimwatch/ingest/source/internal/normtest"
)

// FuzzNormalize: no input panics, and every event returned keeps the contract.
func FuzzNormalize(f *testing.F) {
	normtest.Seed(f, "testdata")
	f.Fuzz(func(t *testing.T, raw []byte) {
		evs, err := Normalizer{}.Normalize(nil, raw, "fuzz")
		if err != nil {
			if len(evs) != 0 {
				t.Fatalf("error %v with %d events", err, len(evs))
			}
			return
		}
		normtest.CheckEvents(t, evs)
	})
}
