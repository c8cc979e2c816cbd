package rules_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/rules/rulegen"
)

// probeEvents are the events loaded rules are run on: ordinary, empty, and
// odd.
var probeEvents = []event.Event{
	{ID: "e1", Time: time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC), Tenant: "acme", Action: "role.grant", Outcome: "success",
		Actor:   event.Actor{ID: "a1", Email: "a@acme.com", IP: "10.0.0.1"},
		Targets: []event.Target{{ID: "a1", Type: "user"}, {Type: "role", Name: "Global Administrator"}},
		Changes: []event.Change{{Field: "role", New: "x"}}, Raw: json.RawMessage(`{"a":1}`)},
	{},
	{ID: "\x00", Time: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), Tenant: "é–\u00a0", Action: "user.create",
		Targets: make([]event.Target, 3)},
}

// probeRows are the rows scheduled rules are run on.
var probeRows = []map[string]any{
	{"key": "u1", "idle_days": uint64(120), "last_used": uint64(1763607600000), "n": int64(4), "targets": []any{"user: u1"}},
	{},
	{"key": nil, "idle_days": "x", "last_used": uint64(18446744073709551615), "n": -1.5},
}

// checkNoPanic loads src and runs every compiled expression and text of
// every rule it loads on the probe events. Load must return rules or
// errors, never panic; evaluation may fail, never panic.
func checkNoPanic(t *testing.T, src []byte) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		return
	}
	if set == nil {
		t.Fatal("no set and no error")
	}
	var m rules.Matcher
	for _, r := range set.Rules {
		for i := range probeEvents {
			e := &probeEvents[i]
			_, _ = m.Match(r, e)
			if th := r.Threshold; th != nil {
				for _, p := range th.GroupBy {
					_, _ = m.Eval(p, e)
				}
				if th.Distinct != nil {
					_, _ = m.Eval(th.Distinct, e)
				}
			}
			if sq := r.Sequence; sq != nil {
				_, _ = m.Eval(sq.By, e)
				for j, p := range sq.Steps {
					if g := sq.Guards[j]; g != nil {
						g(e)
					}
					_, _ = m.True(p, e)
				}
			}
			if r.Dedup.Key != nil {
				_, _ = m.Eval(r.Dedup.Key, e)
			}
			if lg := r.Learns(); lg != nil {
				_, _ = m.Eval(lg.By, e)
				if lg.Learn != nil {
					_, _ = m.True(lg.Learn, e)
				}
			}
			if nt := r.NewTerm; nt != nil {
				for _, p := range nt.Fields {
					if p != nil {
						_, _ = m.Eval(p, e)
					}
				}
			}
			if r.Scheduled != nil {
				for _, row := range probeRows {
					env := &rules.RowEnv{Row: row, Tenant: e.Tenant, Now: e.Time, Params: r.Scheduled.Params}
					_, _ = m.MatchRow(r, env)
					if r.Scheduled.Key != nil {
						_, _ = m.EvalRow(r.Scheduled.Key, env)
					}
				}
			}
			d := rules.AlertData{Rule: r, Event: e, Count: 3, Key: "k", First: e.Time, Last: e.Time, Term: "10.0.0.1 / curl",
				Stats: &rules.Stats{Observed: 4, Total: 9, Share: 0.4, History: time.Hour}, Row: probeRows[0]}
			_ = r.TitleText.Render(d)
			_ = r.SummaryText.Render(d)
		}
	}
	_ = set.RunTests(func(*rules.Rule, *rules.TestCase, []event.Event) (int, []string, error) { return 0, nil, nil }, nil)
}

// FuzzGeneratedRules is structure-aware: the fuzzer's bytes choose
// productions of the expression grammar and of the rules file (see
// rulegen), so that mutations explore expressions that type-check and
// reach the guard compiler, the action index and the templates.
//
//	go test -run X -fuzz FuzzGeneratedRules -fuzztime 5m ./rules/
func FuzzGeneratedRules(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 64; i++ {
		b := make([]byte, 64+rng.IntN(512))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, choices []byte) {
		checkNoPanic(t, []byte(rulegen.New(choices).File(4)))
	})
}

// TestGeneratedRules runs the generator on fixed pseudo-random choices on
// every test run, so that the suite covers what the fuzzer explores.
func TestGeneratedRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	loaded := 0
	n := 1500
	if testing.Short() {
		n = 200
	}
	for i := 0; i < n; i++ {
		// Half the choices 0, the first production, which is mostly the
		// well-formed one: many files get past the parser and type checker.
		b := make([]byte, 32+rng.IntN(400))
		for j := range b {
			if rng.IntN(2) == 0 {
				b[j] = byte(rng.Uint32())
			}
		}
		src := rulegen.New(b).File(4)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic %v on:\n%s", r, src)
				}
			}()
			checkNoPanic(t, []byte(src))
		}()
		if _, err := rules.Load(rules.Options{}, writeRules(t, src)); err == nil {
			loaded++
		}
	}
	// The generator must reach past the parser: a share of its files load.
	if loaded < n/10 {
		t.Errorf("only %d of %d generated files loaded: the generator no longer reaches the later stages", loaded, n)
	}
	t.Logf("%d of %d generated files loaded", loaded, n)
}

func writeRules(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
