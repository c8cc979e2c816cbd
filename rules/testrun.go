package rules

import (
	"errors"
	"fmt"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
)

// TestResult is the outcome of one inline test case.
type TestResult struct {
	Rule *Rule
	Case TestCase
	// Got is how many alerts the rule raised; Fired the ids of the events
	// that fired.
	Got   int
	Fired []string
	// Events are the test's events, normalized.
	Events []event.Event
	Err    error
}

// Passed reports whether the case passed.
func (t *TestResult) Passed() bool { return t.Err == nil && t.Got == t.Case.Alerts }

// Evaluator runs one rule over a test case's events, in time order (or,
// for a scheduled rule, its rows), and returns the alerts it raised and
// the ids of the events (or the keys of the rows) in them.
type Evaluator func(r *Rule, tc *TestCase, events []event.Event) (alerts int, fired []string, err error)

// Normalizer appends to evs the canonical events of a test's raw record
// of source src, as ingest and detection see them (source.NormalizeTest
// is scimwatch's). The rule language takes it from the caller, so that it
// depends on no normalizer.
type Normalizer func(evs []event.Event, src string, raw []byte) ([]event.Event, error)

// RunTests runs every rule's inline tests with eval (ruletest.Evaluator
// is the engine's), their raw records normalized by normalize.
func (s *Set) RunTests(eval Evaluator, normalize Normalizer) []TestResult {
	var out []TestResult
	for _, r := range s.Rules {
		for _, tc := range r.tests {
			res := TestResult{Rule: r, Case: tc}
			res.Events, res.Err = tc.events(normalize)
			if res.Err == nil {
				res.Got, res.Fired, res.Err = eval(r, &tc, res.Events)
			}
			out = append(out, res)
		}
	}
	return out
}

// Tests returns the rule's inline test cases.
func (r *Rule) Tests() []TestCase { return r.tests }

func (tc *TestCase) events(normalize Normalizer) ([]event.Event, error) {
	var evs []event.Event
	for i, te := range tc.Events {
		if !te.Raw {
			var e event.Event
			if err := json.Unmarshal(te.JSON, &e); err != nil {
				return nil, fmt.Errorf("event %d (line %d): %w", i+1, te.Line, err)
			}
			if e.ID == "" {
				e.ID = fmt.Sprintf("test-%d", i+1)
			}
			evs = append(evs, e)
			continue
		}
		if normalize == nil {
			return nil, fmt.Errorf("event %d (line %d): %w", i+1, te.Line, errors.New("a raw record, and no normalizer to read it"))
		}
		var err error
		if evs, err = normalize(evs, te.Source, te.JSON); err != nil {
			return nil, fmt.Errorf("event %d (line %d): %w", i+1, te.Line, err)
		}
	}
	return evs, nil
}
