// Package rules loads detection rules: YAML files of rules, shared macros
// and lists, whose expressions (github.com/expr-lang/expr) are compiled and
// type-checked against the canonical event when they load, so that a typo
// such as actor.emial fails at load with FILE:LINE:COLUMN, not at 3 a.m.
package rules

import (
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/scimwatch/scimwatch/event"
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
	// Nodes rather than strings where a mistake is reported at its line.
	ID          yaml.Node   `yaml:"id"`
	Title       yaml.Node   `yaml:"title"`
	Description string      `yaml:"description"`
	Runbook     string      `yaml:"runbook"`
	Severity    yaml.Node   `yaml:"severity"`
	Tags        []string    `yaml:"tags"`
	When        yaml.Node   `yaml:"when"`
	Exceptions  []yaml.Node `yaml:"exceptions"`
	Threshold   *struct {
		Count    int         `yaml:"count"`
		Distinct yaml.Node   `yaml:"distinct"`
		Window   string      `yaml:"window"`
		GroupBy  []yaml.Node `yaml:"group_by"`
	} `yaml:"threshold"`
	Sequence *struct {
		By     yaml.Node `yaml:"by"`
		Within string    `yaml:"within"`
		Steps  []struct {
			Name string    `yaml:"name"`
			When yaml.Node `yaml:"when"`
		} `yaml:"steps"`
	} `yaml:"sequence"`
	NewTerm   *newTermSpec   `yaml:"new_term"`
	Baseline  *baselineSpec  `yaml:"baseline"`
	Scheduled *scheduledSpec `yaml:"scheduled"`
	Dedup     *struct {
		Key    yaml.Node `yaml:"key"`
		Period string    `yaml:"period"`
	} `yaml:"dedup"`
	MaxAlertsPerDay int        `yaml:"max_alerts_per_day"`
	Summary         yaml.Node  `yaml:"summary"`
	Tests           []testSpec `yaml:"tests"`
}

// line is the rule's line in its file: its id's, or else the first of its
// fields that has one.
func (rs *ruleSpec) line() int {
	for _, l := range []int{rs.ID.Line, rs.Title.Line, rs.Severity.Line, rs.When.Line} {
		if l > 0 {
			return l
		}
	}
	if rs.Sequence != nil {
		return rs.Sequence.By.Line
	}
	return 0
}

// at returns the line of n, or the rule's line when n is absent.
func (rs *ruleSpec) at(n *yaml.Node) int {
	if n.Line > 0 {
		return n.Line
	}
	return rs.line()
}

// testSpec is an inline test case: events, each canonical or raw
// ({raw: {...}, source: okta}), and how many alerts the rule must raise. A
// scheduled rule's case gives rows instead, as its query would return
// them for tenant at now.
type testSpec struct {
	Name   string           `yaml:"name"`
	Events []yaml.Node      `yaml:"events"`
	Rows   []map[string]any `yaml:"rows"`
	Tenant string           `yaml:"tenant"`
	Now    string           `yaml:"now"`
	Alerts int              `yaml:"alerts"`
}

// Rule is a loaded, compiled rule.
type Rule struct {
	ID          string
	Title       string
	Description string
	// Runbook is a link to what to do when the rule fires.
	Runbook  string
	Severity string
	Tags     []string
	// Where it was defined: "FILE:LINE".
	Origin string

	// When is the rule's condition; for a sequence rule, Steps[0].
	When       *vm.Program
	Exceptions []*vm.Program
	// Guard is a necessary condition of When, checked first (nil: none);
	// when Exact, it is When itself and the expression never runs.
	Guard Guard
	Exact bool
	// ExceptionGuards are the exceptions in Go where exact, else nil.
	ExceptionGuards []Guard
	// Actions are the actions an event must have to match When (or any
	// step); nil when the rule can match any action.
	Actions []string

	Threshold *Threshold
	Sequence  *Sequence
	NewTerm   *NewTerm
	Baseline  *Baseline
	Scheduled *Scheduled
	Dedup     Dedup
	// MaxAlertsPerDay is the rule's noise budget, which backtest reports
	// against (0: none).
	MaxAlertsPerDay int
	// TitleText and SummaryText render the alert text from AlertData.
	TitleText, SummaryText *Text

	tests []TestCase
	set   *Set // the set the rule was loaded in
}

// Alone is a set of this rule alone, with the calendar and lists of the
// set it was loaded in.
func (r *Rule) Alone() *Set {
	if r.set == nil {
		return &Set{Rules: []*Rule{r}}
	}
	return r.set.Subset(r)
}

// MaxThresholdCount bounds threshold.count: a window holds fewer than count
// events, so a rule's windows hold at most max_keys x count entries.
const MaxThresholdCount = 10000

// Threshold fires when Count events (or distinct values of Distinct)
// matching When fall in a sliding Window, per group.
type Threshold struct {
	Count    int
	Distinct *vm.Program // nil: count events
	Window   time.Duration
	GroupBy  []*vm.Program
	// GroupFields read the group_by expressions that are plain fields
	// (tenant, actor.id) without running them; nil where not.
	GroupFields []func(*event.Event) string
}

// Sequence fires when events matching Steps, in order, with the same By
// key, happen within Within of the first.
type Sequence struct {
	By        *vm.Program
	Within    time.Duration
	Steps     []*vm.Program
	Guards    []Guard // per step, nil: none
	Exact     []bool  // per step: the guard is the step
	StepNames []string
}

// Dedup merges the alerts of one key within Period into one that counts
// them. Key nil: the rule's group key.
type Dedup struct {
	Key    *vm.Program
	Period time.Duration
}

// TestCase is an inline test of a rule.
type TestCase struct {
	Name   string
	Origin string // FILE:LINE
	Events []TestEvent
	// Rows, Tenant and Now: a scheduled rule's case.
	Rows   []map[string]any
	Tenant string
	Now    time.Time
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

// learnNode is the learn expression of a new_term or baseline rule.
func (rs *ruleSpec) learnNode() *yaml.Node {
	switch {
	case rs.NewTerm != nil:
		return &rs.NewTerm.Learn
	case rs.Baseline != nil:
		return &rs.Baseline.Learn
	}
	return &yaml.Node{}
}

// Rule kinds.
const (
	KindSimple    = "simple"
	KindThreshold = "threshold"
	KindSequence  = "sequence"
	KindNewTerm   = "new_term"
	KindBaseline  = "baseline"
	KindScheduled = "scheduled"
)

// Kind is the rule's kind.
func (r *Rule) Kind() string {
	switch {
	case r.Threshold != nil:
		return KindThreshold
	case r.Sequence != nil:
		return KindSequence
	case r.NewTerm != nil:
		return KindNewTerm
	case r.Baseline != nil:
		return KindBaseline
	case r.Scheduled != nil:
		return KindScheduled
	}
	return KindSimple
}

// Learns returns what a new_term or baseline rule learns from; nil for the
// other kinds.
func (r *Rule) Learns() *Learning {
	switch {
	case r.NewTerm != nil:
		return &r.NewTerm.Learning
	case r.Baseline != nil:
		return &r.Baseline.Learning
	}
	return nil
}
