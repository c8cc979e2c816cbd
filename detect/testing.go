package detect

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// TestEvaluator returns the evaluator of inline rule tests: a fresh engine
// per case with the rule alone, no lateness, the events in time order, and
// every alert closed at the end.
func TestEvaluator(cfg Config) rules.Evaluator {
	cfg.AllowedLateness = 0
	return func(r *rules.Rule, events []event.Event) (int, []string, error) {
		var alerts []*Alert
		e, err := New(cfg, &rules.Set{Rules: []*rules.Rule{r}}, SinkFunc(func(a *Alert) {
			if a.Final {
				alerts = append(alerts, a)
			}
		}), prometheus.NewRegistry(), nil)
		if err != nil {
			return 0, nil, err
		}
		evs := slices.Clone(events)
		slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
		for i := range evs {
			e.Process(&evs[i])
		}
		e.Flush()
		var fired []string
		for _, a := range alerts {
			fired = append(fired, a.Events...)
		}
		return len(alerts), fired, nil
	}
}
