// Package ruletest runs rules' inline tests (scimwatch rules test, the
// built-ins' tests) on the detection engine: each case on a fresh engine
// with the rule alone. Like promtool's unit tests, it is kept apart from
// the rule language (rules parses and validates) and from the engine.
package ruletest

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/rules"
)

// Run runs every inline test of set with the engine configured as cfg;
// raw vendor records are read by scimwatch's normalizers.
func Run(set *rules.Set, cfg detect.Config) []rules.TestResult {
	return set.RunTests(Evaluator(cfg), source.NormalizeTest)
}

// Evaluator returns the evaluator of inline rule tests: a fresh engine
// per case with the rule alone, no lateness, the events in time order, and
// every alert resolved at the end. A test counts alerts once each, when
// they are final.
func Evaluator(cfg detect.Config) rules.Evaluator {
	cfg.AllowedLateness = 0
	cfg.MaxFutureSkew = 0 // tests may be dated in the future
	overrides := cfg.Overrides
	return func(r *rules.Rule, tc *rules.TestCase, events []event.Event) (int, []string, error) {
		// The rule's own overrides: the engine refuses those of rules it
		// does not have.
		cfg := cfg
		cfg.Overrides = map[string]map[string]detect.Override{}
		for t, o := range overrides {
			if ov, ok := o[r.ID]; ok {
				cfg.Overrides[t] = map[string]detect.Override{r.ID: ov}
			}
		}
		var alerts []detect.Alert
		e, err := detect.New(cfg, r.Alone(), detect.SinkFunc(func(a detect.Alert) error {
			if a.Final {
				alerts = append(alerts, a)
			}
			return nil
		}), prometheus.NewRegistry(), nil)
		if err != nil {
			return 0, nil, err
		}
		if r.Scheduled != nil {
			return testRows(e, r, tc)
		}
		evs := slices.Clone(events)
		slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
		for i := range evs {
			if err := e.Process(&evs[i]); err != nil {
				return 0, nil, err
			}
		}
		if err := e.Flush(); err != nil {
			return 0, nil, err
		}
		var fired []string
		for _, a := range alerts {
			fired = append(fired, a.Events...)
		}
		return len(alerts), fired, nil
	}
}

// testRows evaluates a scheduled rule on a test case's rows: an alert per
// key whose row the rule's when holds for.
func testRows(e *detect.Engine, r *rules.Rule, tc *rules.TestCase) (int, []string, error) {
	seen := map[string]bool{}
	var keys []string
	for _, row := range tc.Rows {
		tenant := tc.Tenant
		if t, ok := row["tenant"].(string); ok {
			tenant = t
		}
		key, ok, err := e.EvalRow(r, tenant, row, tc.Now)
		if err != nil {
			return 0, nil, err
		}
		if ok && !seen[tenant+"\x00"+key] {
			seen[tenant+"\x00"+key] = true
			keys = append(keys, key)
		}
	}
	return len(keys), keys, nil
}
