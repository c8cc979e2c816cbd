package ruletest

import (
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/rules"
)

// TestBuiltinRules: the built-in rules are there under their contract ids,
// each with inline tests, and every test passes on the engine.
func TestBuiltinRules(t *testing.T) {
	set, err := rules.Load(rules.Options{}, "../../rules/builtin")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bulk-role-change", "mass-deprovision", "off-hours-user-create", "privileged-role-grant",
		"self-privilege-grant", "create-then-privilege", "reactivate-after-deactivate", "credential-created", "provisioning-failures",
		"stale-account", "dormant-admin", "never-activated", "role-change-rate-anomaly", "off-hours-for-actor", "new-provisioning-source",
		"deprovision-overdue", "deprovision-failed", "access-after-deprovision",
		"scim-token-new-client", "scim-scope-drift", "scim-privileged-attribute-write", "scim-error-burst", "scim-bulk-read",
		"credential-not-rotated", "credential-used-after-revoke", "scim-admin-activated"}
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
	for _, r := range Run(set, detect.DefaultConfig()) {
		if !r.Passed() {
			t.Errorf("%s / %s: got %d alerts (%v), want %d; error %v", r.Rule.ID, r.Case.Name, r.Got, r.Fired, r.Case.Alerts, r.Err)
		}
	}
}

// TestCalendarRuleTests: rule tests over calendars that are not UTC day
// shifts: a night shift across midnight and weekends, and two timezones
// across their daylight-saving changes (testdata/calendar).
func TestCalendarRuleTests(t *testing.T) {
	var cfg struct {
		Calendar rules.Calendar `yaml:"calendar"`
	}
	b, err := os.ReadFile("../testdata/calendar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(rules.Options{Calendar: &cfg.Calendar}, "../testdata/calendar")
	if err != nil {
		t.Fatal(err)
	}
	results := Run(set, detect.DefaultConfig())
	if len(results) != 5 {
		t.Fatalf("%d cases, want 5", len(results))
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s / %s: got %d alerts (%v), want %d; error %v", r.Rule.ID, r.Case.Name, r.Got, r.Fired, r.Case.Alerts, r.Err)
		}
	}
}
