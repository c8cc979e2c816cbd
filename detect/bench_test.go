package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
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
	for _, f := range []string{"shared.yaml", "builtin.yaml", "windowed.yaml", "privileged-roles.txt", "privileged-groups.txt", "deprovision-sla.txt"} {
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
// simulated traffic, one core. One op is one event. The repeat guard is on,
// with a horizon shorter than a pass (17 minutes of event time), so that
// the next pass's events, the same ids, are new ones again.
func BenchmarkEngine(b *testing.B) { benchEngine(b, 10*time.Minute) }

// BenchmarkEngineWithoutRepeatGuard: BenchmarkEngine with repeat_horizon
// 0, the guard's cost by difference.
func BenchmarkEngineWithoutRepeatGuard(b *testing.B) { benchEngine(b, 0) }

func benchEngine(b *testing.B, horizon time.Duration) {
	set, _ := benchSet(b, 91)
	if len(set.Rules) != 100 {
		b.Fatalf("%d rules", len(set.Rules))
	}
	evs := benchEvents(b, 50000)
	alerts := 0
	cfg := DefaultConfig()
	cfg.MaxFutureSkew = 0 // the passes move event time past the wall clock
	cfg.RepeatHorizon = horizon
	e, err := New(cfg, set, SinkFunc(func(Alert) error { alerts++; return nil }), prometheus.NewRegistry(), nil)
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
	cfg := DefaultConfig()
	cfg.RepeatHorizon = 0 // one event, again and again: a repeat, else
	e, err := New(cfg, set, SinkFunc(func(Alert) error { return nil }), prometheus.NewRegistry(), nil)
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
	for _, c := range builtinConds(b) {
		conds = append(conds, c)
	}
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

// listFile reads a list file of the built-in rules.
func listFile(tb testing.TB, name string) map[string]bool {
	b, err := os.ReadFile(filepath.Join("../rules/builtin", name))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out[l] = true
		}
	}
	return out
}

// adminWord is the built-in macro privileged_app_role_target's pattern.
var adminWord = regexp.MustCompile(`(^|[^a-z])(admin|administrator|superuser|owner|root)s?([^a-z]|$)`)

// builtinConds are the built-in rules' conditions written in Go, one per
// rule and one per step of a sequence, keyed "rule" or "rule/step", exactly
// as the rules say them (exceptions included), so that the engine is
// compared with a loop doing the same work: TestHandWrittenMatchesRules
// holds them to it.
func builtinConds(tb testing.TB) map[string]func(*event.Event) bool {
	roles, groups := listFile(tb, "privileged-roles.txt"), listFile(tb, "privileged-groups.txt")
	anyTarget := func(e *event.Event, typ string, list map[string]bool) bool {
		for _, t := range e.Targets {
			if t.Type == typ && list[strings.ToLower(t.Name)] {
				return true
			}
		}
		return false
	}
	actorIsTarget := func(e *event.Event) bool {
		if e.Actor.ID == "" {
			return false
		}
		for _, t := range e.Targets {
			if t.Type == event.TargetUser && t.ID == e.Actor.ID {
				return true
			}
		}
		return false
	}
	// business_hours of the default calendar: Monday to Friday, 08:00 to
	// 19:00, UTC.
	working := func(t time.Time) bool {
		t = t.UTC()
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return false
		}
		m := t.Hour()*60 + t.Minute()
		return m >= 8*60 && m < 19*60
	}
	ok := func(e *event.Event) bool { return e.Outcome == event.OutcomeSuccess }
	in := func(a string, as ...string) bool { return slices.Contains(as, a) }
	return map[string]func(*event.Event) bool{
		"privileged-role-grant": func(e *event.Event) bool {
			return e.Action == event.ActionRoleGrant && ok(e) && anyTarget(e, event.TargetRole, roles)
		},
		"self-privilege-grant": func(e *event.Event) bool {
			hit := ok(e) && ((e.Action == event.ActionRoleGrant || e.Action == event.ActionGroupMemberAdd && anyTarget(e, event.TargetGroup, groups)) && actorIsTarget(e) ||
				e.RawType == "User has elevated their access to User Access Administrator for their Azure Resources")
			return hit && !strings.Contains(e.RawType, "PIM activation")
		},
		"off-hours-user-create": func(e *event.Event) bool { return e.Action == event.ActionUserCreate && ok(e) && !working(e.Time) },
		"credential-created":    func(e *event.Event) bool { return e.Action == event.ActionCredentialCreate && ok(e) },
		"bulk-role-change": func(e *event.Event) bool {
			return in(e.Action, event.ActionRoleGrant, event.ActionRoleRevoke, event.ActionGroupMemberAdd, event.ActionGroupMemberRemove) && ok(e)
		},
		"mass-deprovision": func(e *event.Event) bool {
			return in(e.Action, event.ActionUserDeactivate, event.ActionUserSuspend, event.ActionUserDelete) && ok(e)
		},
		"create-then-privilege/created": func(e *event.Event) bool { return e.Action == event.ActionUserCreate && ok(e) },
		"create-then-privilege/privileged": func(e *event.Event) bool {
			return e.Action == event.ActionRoleGrant && ok(e) && anyTarget(e, event.TargetRole, roles)
		},
		"reactivate-after-deactivate/deactivated": func(e *event.Event) bool {
			return in(e.Action, event.ActionUserDeactivate, event.ActionUserSuspend) && ok(e)
		},
		"reactivate-after-deactivate/reactivated": func(e *event.Event) bool {
			return in(e.Action, event.ActionUserReactivate, event.ActionUserActivate, event.ActionUserUnsuspend) && ok(e)
		},
		"scim-privileged-attribute-write": func(e *event.Event) bool {
			if e.Source != event.SourceSCIM || e.Outcome != event.OutcomeSuccess {
				return false
			}
			switch e.Action {
			case event.ActionUserCreate, event.ActionUserUpdate, event.ActionUserReactivate:
				for _, t := range e.Targets {
					if t.Type == event.TargetRole && (roles[strings.ToLower(t.Name)] || roles[strings.ToLower(t.ID)] ||
						adminWord.MatchString(strings.ToLower(t.Name)) || adminWord.MatchString(strings.ToLower(t.ID))) || t.Type == event.TargetCredential {
						return true
					}
				}
				return anyTarget(e, event.TargetGroup, groups)
			case event.ActionGroupMemberAdd:
				return anyTarget(e, event.TargetGroup, groups)
			}
			return false
		},
		"deprovision-failed": func(e *event.Event) bool {
			hasApp := slices.ContainsFunc(e.Targets, func(t event.Target) bool { return t.Type == event.TargetApp })
			return e.Outcome == event.OutcomeFailure && hasApp && e.Source != event.SourceSCIM && (e.Action == event.ActionAppUnassign || e.Action == event.ActionUserDeactivate ||
				e.Action == event.ActionUserSuspend || e.Action == event.ActionUserDelete ||
				e.RawType == "application.provision.user.deactivate" || e.RawType == "application.provision.user.deprovision")
		},
		"event-trimmed": func(e *event.Event) bool { return e.Trimmed.Any() },
		"provisioning-failures": func(e *event.Event) bool {
			return e.Outcome == event.OutcomeFailure && (e.Action == event.ActionAppProvision || strings.HasPrefix(e.RawType, "provisioning.") ||
				e.Source == event.SourceSCIM && !strings.HasPrefix(e.RawType, "GET "))
		},
	}
}

// TestHandWrittenMatchesRules: the hand-written conditions of the
// benchmark say what the built-in rules say, on simulated traffic and on
// events that reach every branch.
func TestHandWrittenMatchesRules(t *testing.T) {
	set, err := rules.Load(rules.Options{}, "../rules/builtin")
	if err != nil {
		t.Fatal(err)
	}
	conds := builtinConds(t)
	evs := benchEvents(t, 20000)
	for _, a := range event.Actions {
		for _, out := range []string{event.OutcomeSuccess, event.OutcomeFailure} {
			for _, src := range []string{event.SourceSCIM, event.SourceEntra} {
				for _, h := range []int{3, 12} {
					evs = append(evs, event.Event{Action: a, Outcome: out, Source: src, RawType: "PATCH /Users",
						Time: time.Date(2026, 11, 21+h%2, h, 0, 0, 0, time.UTC), Actor: event.Actor{ID: "a"},
						Targets: []event.Target{{Type: event.TargetRole, Name: "Global Administrator"}, {Type: event.TargetUser, ID: "a"},
							{Type: event.TargetGroup, Name: "Okta Admins"}}})
					evs = append(evs, event.Event{Action: a, Outcome: out, Source: src, RawType: "PATCH /Users", Actor: event.Actor{ID: "c"},
						Changes: []event.Change{{Field: "title", New: "x"}, {Field: []string{"roles", "Entitlements[type eq \"x\"]", "roles", "groups"}[h%4], New: []string{"admin", "", "x", "g"}[h%4]}}})
					evs = append(evs, event.Event{Action: a, Outcome: out, Source: src, RawType: "application.provision.user.deactivate",
						Time: time.Date(2026, 11, 21, h, 0, 0, 0, time.UTC), Actor: event.Actor{ID: "a"},
						Targets: []event.Target{{Type: event.TargetApp, Name: "CRM"}, {Type: event.TargetUser, ID: "u"}}})
				}
			}
		}
	}
	evs = append(evs, event.Event{Action: event.ActionUserCreate, Trimmed: event.Trimmed{Targets: 3}},
		event.Event{Action: event.ActionUserCreate, Trimmed: event.Trimmed{Time: "9999-12-31T00:00:00Z"}})
	evs = append(evs, event.Event{Action: event.ActionRoleGrant, Outcome: event.OutcomeSuccess, RawType: "Add member to role completed (PIM activation)",
		Actor: event.Actor{ID: "a"}, Targets: []event.Target{{Type: event.TargetUser, ID: "a"}}})
	var m rules.Matcher
	checked := 0
	for _, r := range set.Rules {
		if r.Learns() != nil || r.Scheduled != nil {
			continue // not in the comparison with other engines: they have no such rules
		}
		progs := map[string]*vm.Program{r.ID: r.When}
		if r.Sequence != nil {
			progs = map[string]*vm.Program{}
			for i, p := range r.Sequence.Steps {
				progs[r.ID+"/"+r.Sequence.StepNames[i]] = p
			}
		}
		for name, p := range progs {
			cond := conds[name]
			if cond == nil {
				t.Fatalf("no hand-written condition for %s", name)
			}
			for i := range evs {
				e := &evs[i]
				want, err := m.True(p, e)
				if err != nil {
					t.Fatal(err)
				}
				if ex, _ := m.Excepted(r, e); ex {
					want = false
				}
				if got := cond(e); got != want {
					t.Fatalf("%s: hand-written %v, rule %v, on %+v", name, got, want, e)
				}
				checked++
			}
		}
	}
	if len(conds) != checked/len(evs) {
		t.Errorf("%d hand-written conditions, %d checked", len(conds), checked/len(evs))
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
	check := func(r *rules.Rule, what string, g rules.Guard, isExact bool, prog *vm.Program, e *event.Event) {
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

// BenchmarkKeyFlood: a threshold rule grouped by actor.id over a stream of
// events each from a new actor, the flood an attack or a big tenant sends.
// Past max_keys (100,000) every event evicts the least recently used key.
// It reports events/s before and after max_keys is reached, and the
// process's peak RSS, which must stay flat however many keys go by:
//
//	go test -run X -bench KeyFlood -benchtime 10000000x -cpu 1 ./detect/
func BenchmarkKeyFlood(b *testing.B) {
	dir := b.TempDir()
	src := "rules:\n  - id: flood\n    title: T\n    severity: low\n    when: action == \"role.grant\"\n" +
		"    threshold: {count: 20, window: 10m, group_by: [tenant, actor.id]}\n"
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.MaxFutureSkew = 0
	e, err := New(cfg, set, SinkFunc(func(Alert) error { return nil }), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	ev := event.Event{Tenant: "acme", Action: event.ActionRoleGrant, Outcome: event.OutcomeSuccess}
	var buf []byte
	start, full := time.Now(), time.Time{}
	for i := 0; b.Loop(); i++ {
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		ev.ID = string(buf)
		ev.Actor.ID = ev.ID
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		_ = e.Process(&ev)
		if i == cfg.MaxKeys {
			full = time.Now()
		}
	}
	if full.IsZero() {
		return // the calibration runs
	}
	end := time.Now()
	before := float64(cfg.MaxKeys) / full.Sub(start).Seconds()
	after := float64(b.N-cfg.MaxKeys) / end.Sub(full).Seconds()
	b.ReportMetric(before, "events/s-before-max-keys")
	b.ReportMetric(after, "events/s-past-max-keys")
	b.ReportMetric(before/after, "slowdown")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
	if n := e.states["flood"].windows.len(); n > cfg.MaxKeys {
		b.Fatalf("%d windows, more than max_keys", n)
	}
}

// learnedFlood floods one history rule of src with events from fresh keys
// or terms (next sets them from i) and reports events/s before and after
// its state reaches its bound, the peak RSS, and checks the bound.
func learnedFlood(b *testing.B, src string, cfg Config, next func(ev *event.Event, i int), bound func(*learned) (int, int)) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxFutureSkew = 0
	e, err := New(cfg, set, SinkFunc(func(Alert) error { return nil }), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	id := set.Rules[0].ID
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	ev := event.Event{Tenant: "acme", Action: event.ActionUserCreate, Outcome: event.OutcomeSuccess, Actor: event.Actor{Type: "app"}}
	var buf []byte
	start, full := time.Now(), time.Time{}
	fullAt := 0
	for i := 0; b.Loop(); i++ {
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		ev.ID = string(buf)
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		next(&ev, i)
		_ = e.Process(&ev)
		if full.IsZero() && i%1024 == 0 {
			if n, max := bound(e.states[id].learned); n >= max*9/10 {
				full, fullAt = time.Now(), i
			}
		}
	}
	n, max := bound(e.states[id].learned)
	if n > max {
		b.Fatalf("%d entries held, more than the bound %d", n, max)
	}
	if full.IsZero() {
		return // the calibration runs
	}
	end := time.Now()
	before := float64(fullAt) / full.Sub(start).Seconds()
	after := float64(b.N-fullAt) / end.Sub(full).Seconds()
	b.ReportMetric(before, "events/s-before-bound")
	b.ReportMetric(after, "events/s-past-bound")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}

// BenchmarkTermFlood: a SCIM token used from a new address on every event
// (an attacker cycling addresses to exhaust memory): new_term state stays
// at max_terms.
//
//	go test -run X -bench TermFlood -benchtime 10000000x -cpu 1 ./detect/
func BenchmarkTermFlood(b *testing.B) {
	src := "rules:\n  - id: flood\n    title: T\n    severity: low\n    when: action == \"user.create\"\n" +
		"    new_term: {by: actor.id, fields: [actor.ip], history: 30d, min_history: 1h}\n"
	learnedFlood(b, src, DefaultConfig(), func(ev *event.Event, i int) {
		ev.Actor.ID = "scim"
		ev.Actor.IP = ev.ID
	}, func(l *learned) (int, int) { return l.terms.len(), l.terms.max })
}

// BenchmarkBaselineFlood: a new actor on every event, a month of hours
// apart: baseline series stay at max_keys and their hours at
// max_baseline_hours.
//
//	go test -run X -bench BaselineFlood -benchtime 10000000x -cpu 1 ./detect/
func BenchmarkBaselineFlood(b *testing.B) {
	src := "rules:\n  - id: flood\n    title: T\n    severity: low\n    when: action == \"user.create\"\n" +
		"    baseline: {by: actor.id, history: 8w, min_history: 14d, rate: {min_count: 10}}\n"
	learnedFlood(b, src, DefaultConfig(), func(ev *event.Event, i int) {
		ev.Actor.ID = ev.ID
	}, func(l *learned) (int, int) { return len(l.series), DefaultConfig().MaxKeys })
}

// BenchmarkRepeatIDFlood: a new event id on every event, a millisecond
// apart (a flood, or a big tenant: 1,000 events/s), past what
// repeat_horizon (6 h) would hold: the ids remembered stay at
// max_repeat_ids (1,000,000), the oldest tenth forgotten at once; it
// reports events/s before and after the bound and the peak RSS, which
// stays flat past it:
//
//	go test -run X -bench RepeatIDFlood -benchtime 5000000x -cpu 1 ./detect/
func BenchmarkRepeatIDFlood(b *testing.B) {
	dir := b.TempDir()
	src := "rules:\n  - id: other\n    title: T\n    severity: low\n    when: action == \"role.grant\"\n"
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.MaxFutureSkew = 0
	e, err := New(cfg, set, SinkFunc(func(Alert) error { return nil }), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	ids := make([]string, 1<<16) // ids made beforehand: the bench measures the engine
	ev := event.Event{Tenant: "acme", Source: "okta", Action: event.ActionUserLogin, Outcome: event.OutcomeSuccess}
	start, full := time.Now(), time.Time{}
	for i := 0; b.Loop(); i++ {
		if i%len(ids) == 0 {
			for j := range ids {
				ids[j] = strconv.Itoa(i + j)
			}
		}
		ev.ID = ids[i%len(ids)]
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		_ = e.Process(&ev)
		if i == cfg.MaxRepeatIDs {
			full = time.Now()
		}
		if n := e.ids.len(); n > cfg.MaxRepeatIDs {
			b.Fatalf("%d ids remembered, more than max_repeat_ids", n)
		}
	}
	if full.IsZero() {
		return // the calibration runs
	}
	end := time.Now()
	b.ReportMetric(float64(cfg.MaxRepeatIDs)/full.Sub(start).Seconds(), "events/s-before-bound")
	b.ReportMetric(float64(b.N-cfg.MaxRepeatIDs)/end.Sub(full).Seconds(), "events/s-past-bound")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}
