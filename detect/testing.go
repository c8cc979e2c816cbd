package detect

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// TestEvaluator returns the evaluator of inline rule tests: a fresh engine
// per case with the rule alone, no lateness, the events in time order, and
// every alert resolved at the end. A test counts alerts once each, when
// they are final.
func TestEvaluator(cfg Config) rules.Evaluator {
	cfg.AllowedLateness = 0
	cfg.MaxFutureSkew = 0 // tests may be dated in the future
	overrides := cfg.Overrides
	return func(r *rules.Rule, tc *rules.TestCase, events []event.Event) (int, []string, error) {
		// The rule's own overrides: the engine refuses those of rules it
		// does not have.
		cfg := cfg
		cfg.Overrides = map[string]map[string]Override{}
		for t, o := range overrides {
			if ov, ok := o[r.ID]; ok {
				cfg.Overrides[t] = map[string]Override{r.ID: ov}
			}
		}
		var alerts []Alert
		e, err := New(cfg, r.Alone(), SinkFunc(func(a Alert) error {
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
func testRows(e *Engine, r *rules.Rule, tc *rules.TestCase) (int, []string, error) {
	var m rules.Matcher
	seen := map[string]bool{}
	var keys []string
	for _, row := range tc.Rows {
		tenant := tc.Tenant
		if t, ok := row["tenant"].(string); ok {
			tenant = t
		}
		a, ok, err := rowAlert(&m, r, &rules.RowEnv{Row: row, Tenant: tenant, Now: tc.Now, Params: e.paramsFor(r, tenant)}, e.cfg.MaxEventIDs)
		if err != nil {
			return 0, nil, err
		}
		if ok && !seen[tenant+"\x00"+a.Key] {
			seen[tenant+"\x00"+a.Key] = true
			keys = append(keys, a.Key)
		}
	}
	return len(keys), keys, nil
}
