package detect

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/rules"
)

// TestBuiltinTitlesSayWhoDidWhat: an analyst reads the title first: every
// built-in rule's alert names who did it, or to whom, from its events, and
// a final alert counts all its events.
func TestBuiltinTitlesSayWhoDidWhat(t *testing.T) {
	set, err := rules.Load(rules.Options{}, "../rules/builtin")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var titles []Alert
	eval := func(r *rules.Rule, tc *rules.TestCase, events []event.Event) (int, []string, error) {
		if r.Scheduled != nil {
			// A row's alert names the account it is about.
			var m rules.Matcher
			n := 0
			for _, row := range tc.Rows {
				a, ok, err := rowAlert(&m, r, &rules.RowEnv{Row: row, Tenant: tc.Tenant, Now: tc.Now, Params: r.Scheduled.Params}, 20)
				if err != nil || !ok {
					continue
				}
				n++
				seen[r.ID] = true
				// An account by its email; a credential by its name and id.
				email, _ := row["email"].(string)
				subject, target := email, "user: "+email
				if name, _ := row["name"].(string); email == "" && strings.HasPrefix(r.ID, "credential-") {
					key, _ := row["key"].(string)
					subject, target = name, "credential: "+name+" ("+key+")"
				}
				if subject == "" || !strings.Contains(a.Title, subject) || !slices.Contains(a.Targets, target) ||
					strings.Contains(a.Title+a.Summary, "<no value>") || strings.Contains(a.Summary, "  ") {
					t.Errorf("%s: title %q, summary %q, targets %q: want %q named", r.ID, a.Title, a.Summary, a.Targets, subject)
				}
			}
			return n, nil, nil
		}
		cfg := DefaultConfig()
		cfg.AllowedLateness, cfg.MaxFutureSkew = 0, 0
		e, err := New(cfg, r.Alone(),
			SinkFunc(func(a Alert) error {
				if a.Final {
					titles = append(titles, a)
				}
				return nil
			}), prometheus.NewRegistry(), nil)
		if err != nil {
			return 0, nil, err
		}
		titles = titles[:0]
		evs := slices.Clone(events)
		slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
		for i := range evs {
			_ = e.Process(&evs[i])
		}
		_ = e.Flush()
		var names []string
		for _, ev := range evs {
			names = append(names, ev.Actor.Email, ev.Actor.Name, ev.Actor.ID)
			for _, tg := range ev.Targets {
				names = append(names, tg.Email, tg.Name, tg.ID)
			}
		}
		for _, a := range titles {
			seen[r.ID] = true
			named := false
			for _, n := range names {
				named = named || n != "" && strings.Contains(a.Title, n)
			}
			if !named || strings.Contains(a.Title, "<no value>") || strings.Contains(a.Title, "  ") || strings.Contains(a.Summary, "<no value>") {
				t.Errorf("%s: title %q names none of its events' actors or targets (summary %q)", r.ID, a.Title, a.Summary)
			}
			if r.Threshold != nil && !strings.Contains(a.Title, fmt.Sprint(a.Count)) {
				t.Errorf("%s: final title %q does not say the final count %d", r.ID, a.Title, a.Count)
			}
		}
		return len(titles), nil, nil
	}
	set.RunTests(eval, source.NormalizeTest)
	for _, r := range set.Rules {
		if !seen[r.ID] {
			t.Errorf("%s: no test case raised an alert to check", r.ID)
		}
	}
}
