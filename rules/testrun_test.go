package rules_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// TestRawTestEventsNeedANormalizer: the rule language reads a test's raw
// vendor record through the normalizer its caller gives (it imports
// none): without one the case fails saying so; with one, the normalizer
// gets the record and its source, and the rule sees what it returns.
func TestRawTestEventsNeedANormalizer(t *testing.T) {
	dir := writeRules(t, `rules:
  - id: r
    title: t
    severity: low
    when: action == "user.create"
    tests:
      - name: a raw record
        events:
          - raw: {eventType: user.lifecycle.create}
            source: okta
        alerts: 1
`)
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(_ *rules.Rule, _ *rules.TestCase, evs []event.Event) (int, []string, error) {
		n := 0
		for _, e := range evs {
			if e.Action == "user.create" {
				n++
			}
		}
		return n, nil, nil
	}
	res := set.RunTests(eval, nil)
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "no normalizer") {
		t.Fatalf("without a normalizer: %+v", res)
	}
	var gotSource, gotRaw string
	res = set.RunTests(eval, func(evs []event.Event, src string, raw []byte) ([]event.Event, error) {
		gotSource, gotRaw = src, string(raw)
		return append(evs, event.Event{ID: "x", Action: "user.create"}), nil
	})
	if len(res) != 1 || !res[0].Passed() || gotSource != "okta" || !strings.Contains(gotRaw, "user.lifecycle.create") {
		t.Fatalf("with a normalizer: %+v (source %q, raw %q)", res, gotSource, gotRaw)
	}
	res = set.RunTests(eval, func(evs []event.Event, _ string, _ []byte) ([]event.Event, error) {
		return evs, errors.New("not an Okta record")
	})
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "not an Okta record") {
		t.Fatalf("a normalizer's error: %+v", res)
	}
}
