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
	return func(r *rules.Rule, events []event.Event) (int, []string, error) {
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
		e, err := New(cfg, &rules.Set{Rules: []*rules.Rule{r}}, SinkFunc(func(a Alert) error {
			if a.Final {
				alerts = append(alerts, a)
			}
			return nil
		}), prometheus.NewRegistry(), nil)
		if err != nil {
			return 0, nil, err
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
