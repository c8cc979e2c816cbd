package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/ingest/synth"
	"github.com/scimwatch/scimwatch/rules"
)

// generated is one generated rule: its expression and the same condition
// written in Go.
type generated struct {
	expr      string
	goCond    func(e *event.Event) bool
	threshold bool
}

var (
	benchActions = []string{event.ActionUserLogin, event.ActionGroupMemberAdd, event.ActionUserUpdate, event.ActionAppAssign,
		event.ActionUserCreate, event.ActionGroupMemberRemove, event.ActionUserDeactivate, event.ActionRoleGrant, event.ActionPasswordReset,
		event.ActionCredentialCreate, event.ActionUserDelete, event.ActionAppProvision}
	benchGroups  = []string{"Engineering", "Sales", "Okta Admins", "AWS-Prod-Admins", "Contractors", "Finance", "Support"}
	benchDomains = []string{"example.com", "acme.com", "contoso.com"}
)

func emailDomain(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return strings.ToLower(s[i+1:])
	}
	return ""
}

// generate makes n realistic rules of five shapes over the actions of the
// simulated traffic; every fifth is a threshold.
func generate(n int) []generated {
	var out []generated
	for i := 0; i < n; i++ {
		a := benchActions[i%len(benchActions)]
		var g generated
		switch i % 5 {
		case 0:
			g = generated{fmt.Sprintf(`action == %q && outcome == "failure"`, a),
				func(e *event.Event) bool { return e.Action == a && e.Outcome == event.OutcomeFailure }, false}
		case 1:
			d := benchDomains[i%len(benchDomains)]
			g = generated{fmt.Sprintf(`action == %q && email_domain(actor.email) == %q`, a, d),
				func(e *event.Event) bool { return e.Action == a && emailDomain(e.Actor.Email) == d }, false}
		case 2:
			grp := benchGroups[i%len(benchGroups)]
			g = generated{fmt.Sprintf(`action == %q && any(targets, .type == "group" && .name == %q)`, a, grp),
				func(e *event.Event) bool {
					if e.Action != a {
						return false
					}
					for _, t := range e.Targets {
						if t.Type == event.TargetGroup && t.Name == grp {
							return true
						}
					}
					return false
				}, false}
		case 3:
			p := fmt.Sprint(10 + i%90)
			g = generated{fmt.Sprintf(`action == %q && actor.ip startsWith %q`, a, p+".1"),
				func(e *event.Event) bool { return e.Action == a && strings.HasPrefix(e.Actor.IP, p+".1") }, false}
		case 4:
			g = generated{fmt.Sprintf(`action == %q && actor.type == "user" && len(changes) > 0`, a),
				func(e *event.Event) bool {
					return e.Action == a && e.Actor.Type == event.ActorUser && len(e.Changes) > 0
				}, true}
		}
		out = append(out, g)
	}
	return out
}

// benchSet loads the built-in rules plus n generated ones.
func benchSet(b testing.TB, n int) (*rules.Set, []generated) {
	b.Helper()
	dir := b.TempDir()
	for _, f := range []string{"shared.yaml", "builtin.yaml", "windowed.yaml", "privileged-roles.txt", "privileged-groups.txt"} {
		src, err := os.ReadFile(filepath.Join("../rules/builtin", f))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), src, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	gen := generate(n)
	var y strings.Builder
	y.WriteString("rules:\n")
	for i, g := range gen {
		fmt.Fprintf(&y, "  - id: generated-%d\n    title: Generated %d\n    severity: low\n    when: '%s'\n", i, i, g.expr)
		if g.threshold {
			y.WriteString("    threshold: {count: 1000, window: 10m, group_by: [tenant, actor.id]}\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "generated.yaml"), []byte(y.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		b.Fatal(err)
	}
	return set, gen
}

// benchEvents returns n normalized events of simulated traffic, in time order.
func benchEvents(b testing.TB, n int) []event.Event {
	g := synth.New(11, time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), 20*time.Millisecond, 5000)
	evs := make([]event.Event, 0, n)
	var err error
	for len(evs) < n {
		raw, _ := g.Next(nil, 0.6)
		if evs, err = (source.Auto{}).Normalize(evs, raw, "acme"); err != nil {
			b.Fatal(err)
		}
	}
	slices.SortStableFunc(evs, func(x, y event.Event) int { return x.Time.Compare(y.Time) })
	return evs
}

// BenchmarkEngine: 100 rules (the 9 built-ins and 91 generated) over
// simulated traffic, one core. One op is one event.
func BenchmarkEngine(b *testing.B) {
	set, _ := benchSet(b, 91)
	if len(set.Rules) != 100 {
		b.Fatalf("%d rules", len(set.Rules))
	}
	evs := benchEvents(b, 50000)
	alerts := 0
	e, err := New(DefaultConfig(), set, SinkFunc(func(*Alert) { alerts++ }), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	base := time.Duration(0)
	span := evs[len(evs)-1].Time.Sub(evs[0].Time) + time.Second
	for i := 0; b.Loop(); i++ {
		ev := &evs[i%len(evs)]
		if i > 0 && i%len(evs) == 0 {
			base += span // keep time moving forward across passes
		}
		saved := ev.Time
		ev.Time = saved.Add(base)
		e.Process(ev)
		ev.Time = saved
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEngineNoMatch: events no rule matches cost no allocation.
func BenchmarkEngineNoMatch(b *testing.B) {
	set, _ := benchSet(b, 91)
	e, err := New(DefaultConfig(), set, SinkFunc(func(*Alert) {}), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	ev := event.Event{ID: "x", Tenant: "acme", Action: event.ActionUserLogin, Outcome: event.OutcomeSuccess,
		Actor: event.Actor{ID: "u", Type: event.ActorUser, Email: "u@nowhere.test", IP: "192.0.2.1"}}
	t := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev.Time = t.Add(time.Duration(i) * time.Millisecond)
		e.Process(&ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkHandWritten: the same 100 conditions as plain Go functions, each
// evaluated on every event (Go's && stops at the action test, as the
// engine's index does).
func BenchmarkHandWritten(b *testing.B) {
	_, gen := benchSet(b, 91)
	conds := make([]func(*event.Event) bool, 0, 100)
	for _, g := range gen {
		conds = append(conds, g.goCond)
	}
	conds = append(conds, builtinConds()...)
	evs := benchEvents(b, 50000)
	hits := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev := &evs[i%len(evs)]
		for _, c := range conds {
			if c(ev) {
				hits++
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// builtinConds are the built-in rules' conditions in Go.
func builtinConds() []func(*event.Event) bool {
	privileged := map[string]bool{"super administrator": true, "organization administrator": true, "global administrator": true,
		"privileged role administrator": true, "user access administrator": true}
	privRole := func(e *event.Event) bool {
		for _, t := range e.Targets {
			if t.Type == event.TargetRole && privileged[strings.ToLower(t.Name)] {
				return true
			}
		}
		return false
	}
	ok := func(e *event.Event) bool { return e.Outcome == event.OutcomeSuccess }
	in := func(a string, as ...string) bool { return slices.Contains(as, a) }
	return []func(*event.Event) bool{
		func(e *event.Event) bool {
			return in(e.Action, event.ActionRoleGrant, event.ActionRoleRevoke, event.ActionGroupMemberAdd, event.ActionGroupMemberRemove) && ok(e)
		},
		func(e *event.Event) bool {
			return in(e.Action, event.ActionUserDeactivate, event.ActionUserDelete) && ok(e)
		},
		func(e *event.Event) bool { return e.Action == event.ActionUserCreate && ok(e) && e.Time.Hour() < 8 },
		func(e *event.Event) bool { return e.Action == event.ActionRoleGrant && ok(e) && privRole(e) },
		func(e *event.Event) bool {
			return e.Action == event.ActionRoleGrant && ok(e) && e.Actor.ID != "" && e.TargetOfType(event.TargetUser) != nil && e.TargetOfType(event.TargetUser).ID == e.Actor.ID
		},
		func(e *event.Event) bool { return e.Action == event.ActionUserCreate && ok(e) },
		func(e *event.Event) bool {
			return in(e.Action, event.ActionUserDeactivate, event.ActionUserSuspend) && ok(e)
		},
		func(e *event.Event) bool { return e.Action == event.ActionCredentialCreate && ok(e) },
		func(e *event.Event) bool {
			return e.Outcome == event.OutcomeFailure && e.Action == event.ActionAppProvision
		},
	}
}

// TestGuardsAgreeWithExpressions: a rule's Go guard never says false where
// its expression is true, and an exact guard always agrees with it, on the
// built-in and generated rules over simulated traffic and test events.
func TestGuardsAgreeWithExpressions(t *testing.T) {
	set, _ := benchSet(t, 91)
	tb, err := rules.Load(rules.Options{}, "testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(set.Rules), tb.Rules...)
	evs := benchEvents(t, 20000)
	// Some events that reach the rarer branches.
	evs = append(evs,
		*ev("x1", 0, event.ActionRoleGrant, "u1", "u1"),
		event.Event{Action: event.ActionRoleGrant, Outcome: event.OutcomeSuccess, Actor: event.Actor{ID: "a"},
			Targets: []event.Target{{Type: event.TargetRole, Name: "Global Administrator"}, {Type: event.TargetUser, ID: "a"}}},
		event.Event{Action: event.ActionGroupMemberAdd, Outcome: event.OutcomeSuccess, Actor: event.Actor{ID: "a"},
			Targets: []event.Target{{Type: event.TargetGroup, Name: "OKTA Admins"}, {Type: event.TargetUser, ID: "a"}}},
		event.Event{Action: event.ActionUserUpdate, Outcome: event.OutcomeFailure, Source: event.SourceSCIM, RawType: "PATCH /Users"},
	)
	var m rules.Matcher
	checked, exact := 0, 0
	check := func(r *rules.Rule, what string, g rules.Guard, isExact bool, prog *vmProgram, e *event.Event) {
		if g == nil || prog == nil {
			return
		}
		want, err := m.True(prog, e)
		if err != nil {
			return
		}
		got := g(e)
		checked++
		if isExact {
			exact++
		}
		if want && !got || isExact && got != want {
			t.Fatalf("rule %s %s: guard %v, expression %v, exact %v, on %+v", r.ID, what, got, want, isExact, e)
		}
	}
	for i := range evs {
		e := &evs[i]
		for _, r := range all {
			check(r, "when", r.Guard, r.Exact, r.When, e)
			for j, ex := range r.Exceptions {
				check(r, "exception", r.ExceptionGuards[j], true, ex, e)
			}
			if r.Sequence != nil {
				for j, st := range r.Sequence.Steps {
					check(r, "step", r.Sequence.Guards[j], r.Sequence.Exact[j], st, e)
				}
			}
		}
	}
	if checked == 0 || exact == 0 {
		t.Fatalf("checked %d, exact %d", checked, exact)
	}
}
