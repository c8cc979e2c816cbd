// Package rules loads detection rules: YAML files of rules, shared macros
// and lists, whose expressions (github.com/expr-lang/expr) are compiled and
// type-checked against the canonical event when they load, so that a typo
// such as actor.emial fails at load with FILE:LINE:COLUMN, not at 3 a.m.
package rules

import (
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Severities, lowest first.
var Severities = []string{"info", "low", "medium", "high", "critical"}

// ruleFile is one rules YAML file.
type ruleFile struct {
	Macros []macroSpec `yaml:"macros"`
	Lists  []listSpec  `yaml:"lists"`
	Rules  []ruleSpec  `yaml:"rules"`
}

type macroSpec struct {
	Name string    `yaml:"name"`
	Expr yaml.Node `yaml:"expr"`
}

type listSpec struct {
	Name  string   `yaml:"name"`
	Items []string `yaml:"items"`
	// File is a list file relative to the rules file: one item per line,
	// blank lines and lines starting with # ignored.
	File string `yaml:"file"`
}

type ruleSpec struct {
	ID          string      `yaml:"id"`
	Title       string      `yaml:"title"`
	Description string      `yaml:"description"`
	Severity    string      `yaml:"severity"`
	Tags        []string    `yaml:"tags"`
	When        yaml.Node   `yaml:"when"`
	Exceptions  []yaml.Node `yaml:"exceptions"`
	Tests       []testSpec  `yaml:"tests"`
}

// testSpec is an inline test case: events, each canonical or raw
// ({raw: {...}, source: okta}), and how many alerts the rule must raise.
type testSpec struct {
	Name   string      `yaml:"name"`
	Events []yaml.Node `yaml:"events"`
	Alerts int         `yaml:"alerts"`
}

// Rule is a loaded, compiled rule.
type Rule struct {
	ID          string
	Title       string
	Description string
	Severity    string
	Tags        []string
	// Where it was defined: "FILE:LINE".
	Origin string

	when       *vm.Program
	exceptions []*vm.Program
	tests      []TestCase
}

// TestCase is an inline test of a rule.
type TestCase struct {
	Name   string
	Origin string // FILE:LINE
	Events []TestEvent
	Alerts int
}

// TestEvent is one event of a test case, as written: canonical, or a raw
// record of a source.
type TestEvent struct {
	Line   int
	JSON   []byte
	Raw    bool
	Source string
}
