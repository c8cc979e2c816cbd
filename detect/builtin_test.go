package detect

import (
	"slices"
	"testing"

	"github.com/scimwatch/scimwatch/rules"
)

// TestBuiltinRules: the built-in rules are there under their contract ids,
// each with inline tests, and every test passes on the engine.
func TestBuiltinRules(t *testing.T) {
	set, err := rules.Load(rules.Options{}, "../rules/builtin")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bulk-role-change", "mass-deprovision", "off-hours-user-create", "privileged-role-grant",
		"self-privilege-grant", "create-then-privilege", "reactivate-after-deactivate", "credential-created", "provisioning-failures"}
	var ids []string
	for _, r := range set.Rules {
		ids = append(ids, r.ID)
		if len(r.Tests()) < 2 && r.ID != "credential-created" {
			t.Errorf("%s has %d tests, want a firing and a quiet case", r.ID, len(r.Tests()))
		}
	}
	for _, id := range want {
		if !slices.Contains(ids, id) {
			t.Errorf("built-in rule %s is missing", id)
		}
	}
	for _, r := range set.RunTests(TestEvaluator(DefaultConfig())) {
		if !r.Passed() {
			t.Errorf("%s / %s: got %d alerts (%v), want %d; error %v", r.Rule.ID, r.Case.Name, r.Got, r.Fired, r.Case.Alerts, r.Err)
		}
	}
}
