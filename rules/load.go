package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Set is a loaded rule set: rules, macros and lists of one or more
// directories.
type Set struct {
	Rules []*Rule

	calendar Calendar
	lists    map[string]map[string]bool
	patterns *patterns
	macros   []*macro
}

type macro struct {
	name   string
	text   string // on one line, for a let binding
	origin string
	ok     bool
}

// Options of Load.
type Options struct {
	// Calendar of working hours; DefaultCalendar when nil.
	Calendar *Calendar
}

// Error is one problem of a rules file, at FILE:LINE:COLUMN.
type Error struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Load reads every .yaml and .yml file of the given files and directories
// (not recursively), and compiles everything in them. Lists and macros are
// shared by all files; a macro may use lists and the macros defined before
// it. It returns every error of every file at once (errors.Join of *Error),
// and no Set when there is any.
func Load(opts Options, paths ...string) (set *Set, err error) {
	// A rules file must never crash scimwatch: lint, test and hot reload all
	// load here. Each stage below also recovers, per file and per rule, so a
	// panic names its place; this is the last net.
	defer func() {
		if r := recover(); r != nil {
			set, err = nil, fmt.Errorf("rules could not be loaded (internal error, please report it): %v", r)
		}
	}()
	cal := DefaultCalendar()
	if opts.Calendar != nil {
		cal = *opts.Calendar
	}
	if err := cal.compile(); err != nil {
		return nil, err
	}
	s := &Set{calendar: cal, lists: map[string]map[string]bool{}, patterns: &patterns{res: map[string]*regexp.Regexp{}}}
	l := &loader{s: s}
	names, err := ruleFiles(paths)
	if err != nil {
		return nil, err
	}
	var files []*parsed
	for _, n := range names {
		l.recovering(n, 0, "", func() {
			if p := l.parse(n); p != nil {
				files = append(files, p)
			}
		})
	}
	for _, f := range files {
		l.recovering(f.name, 0, "", func() { l.loadLists(f) })
	}
	for _, f := range files {
		l.recovering(f.name, 0, "", func() { l.loadMacros(f) })
	}
	ids := map[string]string{}
	for _, f := range files {
		l.loadRules(f, ids)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return s, nil
}

func ruleFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			out = append(out, m...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

type loader struct {
	s    *Set
	errs []error
	// budget is the nodes left to the guard or action analysis under way.
	budget int
}

// Bounds on one expression, so that no rules file can exhaust the loader's
// stack, memory or time: its length, its nesting of brackets, and its size
// in nodes once macros are expanded (a macro that uses another twice
// doubles it at each level).
const (
	maxExprBytes = 64 << 10
	maxNesting   = 64
	maxNodes     = 20000
	maxFileBytes = 8 << 20
)

// parseBounded parses src if it is within the bounds.
func parseBounded(src string) (*parser.Tree, error) {
	if err := checkBounds(src); err != nil {
		return nil, err
	}
	return parser.Parse(src)
}

// checkBounds reports an expression too long or too deeply nested.
func checkBounds(src string) error {
	if len(src) > maxExprBytes {
		return fmt.Errorf("expression is %d bytes, more than the %d allowed", len(src), maxExprBytes)
	}
	depth, quote := 0, byte(0)
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			if depth++; depth > maxNesting {
				return fmt.Errorf("expression nests brackets more than %d deep", maxNesting)
			}
		case c == ')' || c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

type parsed struct {
	name  string
	lines []string
	f     ruleFile
}

// recovering runs f, turning a panic into an error at name:line.
func (l *loader) recovering(name string, line int, rule string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			if rule != "" {
				l.errorf(name, line, 0, "rule %q could not be loaded (internal error, please report it): %v", rule, r)
				return
			}
			l.errorf(name, line, 0, "could not be loaded (internal error, please report it): %v", r)
		}
	}()
	f()
}

func (l *loader) errorf(name string, line, col int, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: name, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)})
}

var (
	yamlLine   = regexp.MustCompile(`^(?:yaml: )?(?:unmarshal errors:\n\s*)?line (\d+): (.*)$`)
	yamlGoType = regexp.MustCompile(` in type rules\.\w+`)
)

func (l *loader) parse(name string) *parsed {
	b, err := readBounded(name)
	if err != nil {
		l.errs = append(l.errs, err)
		return nil
	}
	p := &parsed{name: name, lines: strings.Split(string(b), "\n")}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p.f); err != nil && err.Error() != "EOF" {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				l.yamlError(name, e)
			}
		} else {
			l.yamlError(name, err.Error())
		}
		return nil
	}
	return p
}

// readBounded reads a rules or list file of at most maxFileBytes.
func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, &Error{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileBytes)}
	}
	return b, nil
}

func (l *loader) yamlError(name, msg string) {
	msg = strings.TrimSpace(msg)
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		l.errorf(name, line, 0, "%s", yamlGoType.ReplaceAllString(m[2], ""))
		return
	}
	l.errorf(name, 0, 0, "%s", strings.TrimPrefix(msg, "yaml: "))
}

func (l *loader) loadLists(p *parsed) {
	for _, ls := range p.f.Lists {
		if ls.Name == "" {
			l.errorf(p.name, 0, 0, "a list has no name")
			continue
		}
		if _, dup := l.s.lists[ls.Name]; dup {
			l.errorf(p.name, 0, 0, "list %q is defined twice", ls.Name)
			continue
		}
		set := map[string]bool{}
		for _, it := range ls.Items {
			set[it] = true
		}
		if ls.File != "" {
			lf := ls.File
			if !filepath.IsAbs(lf) {
				lf = filepath.Join(filepath.Dir(p.name), lf)
			}
			b, err := readBounded(lf)
			if err != nil {
				l.errorf(p.name, 0, 0, "list %q: %v", ls.Name, err)
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if it := strings.TrimSpace(line); it != "" && !strings.HasPrefix(it, "#") {
					set[it] = true
				}
			}
		}
		l.s.lists[ls.Name] = set
	}
}

func (l *loader) loadMacros(p *parsed) {
	for _, ms := range p.f.Macros {
		origin := fmt.Sprintf("%s:%d", p.name, ms.Expr.Line)
		if !isIdent(ms.Name) || slices.Contains(helperNames, ms.Name) {
			l.errorf(p.name, ms.Expr.Line, 0, "macro name %q is not a free identifier", ms.Name)
			continue
		}
		if slices.ContainsFunc(l.s.macros, func(m *macro) bool { return m.name == ms.Name }) {
			l.errorf(p.name, ms.Expr.Line, 0, "macro %q is defined twice", ms.Name)
			continue
		}
		m := &macro{name: ms.Name, text: strings.Join(strings.Fields(ms.Expr.Value), " "), origin: origin}
		_, ok := l.compile(p, &ms.Expr, false, len(l.s.macros))
		m.ok = ok
		l.s.macros = append(l.s.macros, m)
	}
}

func (l *loader) loadRules(p *parsed, ids map[string]string) {
	for i := range p.f.Rules {
		rs := &p.f.Rules[i]
		l.recovering(p.name, rs.line(), rs.ID.Value, func() { l.loadRule(p, rs, ids) })
	}
}

func (l *loader) loadRule(p *parsed, rs *ruleSpec, ids map[string]string) {
	line := rs.line()
	id := rs.ID.Value
	var err error
	origin := fmt.Sprintf("%s:%d", p.name, line)
	ok := true
	badAt := func(at int, format string, args ...any) {
		l.errorf(p.name, at, 0, "rule %q: "+format, append([]any{id}, args...)...)
		ok = false
	}
	bad := func(format string, args ...any) { badAt(line, format, args...) }
	switch {
	case !idPattern.MatchString(id):
		badAt(rs.at(&rs.ID), "id must be lower-case letters, digits and dashes")
	case ids[id] != "":
		badAt(rs.at(&rs.ID), "id already used at %s", ids[id])
	default:
		ids[id] = origin
	}
	if rs.Title.Value == "" {
		badAt(rs.at(&rs.Title), "title is required")
	}
	if !slices.Contains(Severities, rs.Severity.Value) {
		badAt(rs.at(&rs.Severity), "severity %q is not one of %s", rs.Severity.Value, strings.Join(Severities, ", "))
	}
	r := &Rule{ID: id, Title: rs.Title.Value, Description: rs.Description, Runbook: rs.Runbook, Severity: rs.Severity.Value, Tags: rs.Tags, Origin: origin, set: l.s}
	nm := len(l.s.macros)
	compileBool := func(n *yaml.Node) *vm.Program {
		prog, cok := l.compile(p, n, true, nm)
		ok = ok && cok
		return prog
	}
	compileAny := func(n *yaml.Node) *vm.Program {
		prog, cok := l.compile(p, n, false, nm)
		ok = ok && cok
		return prog
	}
	var kinds []string
	for k, on := range map[string]bool{"threshold": rs.Threshold != nil, "sequence": rs.Sequence != nil,
		"new_term": rs.NewTerm != nil, "baseline": rs.Baseline != nil, "scheduled": rs.Scheduled != nil} {
		if on {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	switch {
	case len(kinds) > 1:
		bad("has %s: a rule is of one kind at most", strings.Join(kinds, " and "))
	case rs.Sequence != nil && rs.When.Value != "":
		bad("has both when and sequence: a sequence's steps are its conditions")
	case rs.Sequence == nil && rs.When.Value == "":
		bad("when is required")
	}
	if rs.MaxAlertsPerDay < 0 {
		bad("max_alerts_per_day must not be negative")
	}
	r.MaxAlertsPerDay = rs.MaxAlertsPerDay
	switch {
	case rs.Scheduled != nil:
		// A scheduled rule's expressions see the rows of its query.
		if rs.When.Value != "" {
			var cok bool
			r.When, cok = l.compileRow(p, &rs.When, true)
			ok = ok && cok
		}
		for j := range rs.Exceptions {
			prog, cok := l.compileRow(p, &rs.Exceptions[j], true)
			ok = ok && cok
			r.Exceptions = append(r.Exceptions, prog)
			r.ExceptionGuards = append(r.ExceptionGuards, nil)
		}
	case rs.When.Value != "":
		r.When = compileBool(&rs.When)
		r.Actions = l.actionsOf(rs.When.Value, nm)
		r.Guard, r.Exact = l.guardOf(rs.When.Value, nm)
	}
	if rs.Scheduled == nil {
		for j := range rs.Exceptions {
			r.Exceptions = append(r.Exceptions, compileBool(&rs.Exceptions[j]))
			g, exact := l.guardOf(rs.Exceptions[j].Value, nm)
			if !exact {
				g = nil
			}
			r.ExceptionGuards = append(r.ExceptionGuards, g)
		}
	}
	l.loadHistory(p, rs, r, nm, bad, compileAny)
	if lg := r.Learns(); lg != nil && lg.Learn != nil && r.Actions != nil {
		// The rule sees the events it learns from too.
		if la := l.actionsOf(rs.learnNode().Value, nm); la != nil {
			r.Actions = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(r.Actions), la...))))
		} else {
			r.Actions = nil
		}
	}
	if th := rs.Threshold; th != nil {
		t := &Threshold{Count: th.Count}
		if th.Count < 1 || th.Count > MaxThresholdCount {
			bad("threshold.count must be from 1 to %d", MaxThresholdCount)
		}
		if t.Window, err = parseDuration(th.Window); err != nil {
			bad("threshold.window: %v", err)
		}
		if th.Distinct.Value != "" {
			t.Distinct = compileAny(&th.Distinct)
		}
		for j := range th.GroupBy {
			t.GroupBy = append(t.GroupBy, compileAny(&th.GroupBy[j]))
			t.GroupFields = append(t.GroupFields, guardFields[strings.TrimSpace(th.GroupBy[j].Value)])
		}
		r.Threshold = t
	}
	if sq := rs.Sequence; sq != nil {
		q := &Sequence{}
		if len(sq.Steps) < 2 || len(sq.Steps) > 32 {
			bad("sequence needs 2 to 32 steps")
		}
		if sq.By.Value == "" {
			bad("sequence.by is required: the key that ties the steps together")
		} else {
			q.By = compileAny(&sq.By)
		}
		if q.Within, err = parseDuration(sq.Within); err != nil {
			bad("sequence.within: %v", err)
		}
		var acts []string
		known := true
		for j := range sq.Steps {
			q.Steps = append(q.Steps, compileBool(&sq.Steps[j].When))
			g, exact := l.guardOf(sq.Steps[j].When.Value, nm)
			q.Guards, q.Exact = append(q.Guards, g), append(q.Exact, exact)
			q.StepNames = append(q.StepNames, sq.Steps[j].Name)
			a := l.actionsOf(sq.Steps[j].When.Value, nm)
			known = known && a != nil
			acts = append(acts, a...)
		}
		if known {
			slices.Sort(acts)
			r.Actions = slices.Compact(acts)
		}
		r.Sequence = q
	}
	if dd := rs.Dedup; dd != nil {
		if dd.Key.Value != "" {
			r.Dedup.Key = compileAny(&dd.Key)
		}
		if r.Dedup.Period, err = parseDuration(dd.Period); err != nil {
			bad("dedup.period: %v", err)
		}
	}
	var terr error
	rows := rs.Scheduled != nil
	if r.TitleText, terr = parseText(rs.Title.Value, rows); terr != nil {
		badAt(rs.at(&rs.Title), "title: %v", terr)
	}
	r.SummaryText = r.TitleText // a rule without a summary shows its title
	if rs.Summary.Value != "" {
		if r.SummaryText, terr = parseText(rs.Summary.Value, rows); terr != nil {
			badAt(rs.at(&rs.Summary), "summary: %v", terr)
		}
	}
	for _, ts := range rs.Tests {
		if rows != (ts.Rows != nil) {
			badAt(rs.line(), "test %q: a scheduled rule's tests give rows:, other rules' tests give events:", ts.Name)
			continue
		}
		if rows {
			tc, err := rowCase(p.name, rs.line(), ts)
			if err != nil {
				l.errs = append(l.errs, err)
				ok = false
				continue
			}
			r.tests = append(r.tests, tc)
			continue
		}
		tc, err := testCase(p.name, ts)
		if err != nil {
			l.errs = append(l.errs, err)
			ok = false
			continue
		}
		r.tests = append(r.tests, tc)
	}
	if ok {
		l.s.Rules = append(l.s.Rules, r)
	}
}

func testCase(name string, ts testSpec) (TestCase, error) {
	tc := TestCase{Name: ts.Name, Alerts: ts.Alerts}
	if len(ts.Events) == 0 {
		return tc, &Error{File: name, Msg: fmt.Sprintf("test %q has no events", ts.Name)}
	}
	tc.Origin = fmt.Sprintf("%s:%d", name, ts.Events[0].Line)
	for _, n := range ts.Events {
		var v map[string]any
		if err := n.Decode(&v); err != nil {
			return tc, &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("test %q: event is not a mapping", ts.Name)}
		}
		te := TestEvent{Line: n.Line}
		if raw, ok := v["raw"]; ok {
			te.Raw = true
			te.Source, _ = v["source"].(string)
			v, _ = raw.(map[string]any)
		}
		copies, every, baseID, baseTime, err := repeat(v)
		if err != nil {
			return tc, &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("test %q: %v", ts.Name, err)}
		}
		for i := 0; i < copies; i++ {
			if copies > 1 {
				if err := shift(v, i, every, baseID, baseTime); err != nil {
					return tc, &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("test %q: %v", ts.Name, err)}
				}
			}
			b, err := json.Marshal(v)
			if err != nil {
				return tc, &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("test %q: %v", ts.Name, err)}
			}
			te.JSON = b
			tc.Events = append(tc.Events, te)
		}
	}
	return tc, nil
}

// rowCase reads a scheduled rule's test case: rows as its query would
// return them, for tenant (a row's own tenant column wins) at now.
func rowCase(name string, line int, ts testSpec) (TestCase, error) {
	tc := TestCase{Name: ts.Name, Origin: fmt.Sprintf("%s:%d", name, line), Tenant: ts.Tenant, Alerts: ts.Alerts}
	if ts.Events != nil {
		return tc, &Error{File: name, Line: line, Msg: fmt.Sprintf("test %q: a scheduled rule's test gives rows, not events", ts.Name)}
	}
	if ts.Now == "" {
		return tc, &Error{File: name, Line: line, Msg: fmt.Sprintf("test %q: now: is required (the time the query runs at, RFC 3339)", ts.Name)}
	}
	var err error
	if tc.Now, err = time.Parse(time.RFC3339Nano, ts.Now); err != nil {
		return tc, &Error{File: name, Line: line, Msg: fmt.Sprintf("test %q: now: %v", ts.Name, err)}
	}
	for _, r := range ts.Rows {
		row := make(map[string]any, len(r))
		for k, v := range r {
			row[k] = RowValue(v)
		}
		tc.Rows = append(tc.Rows, row)
	}
	return tc, nil
}

// RowValue gives a value of a row (from ClickHouse, or a test) the type
// rule expressions compare it as: integers of every width as int (an
// unsigned one past the int range as float64), floats as float64, times in
// UTC, arrays of strings as []string, other arrays as []any.
func RowValue(v any) any {
	switch x := v.(type) {
	case int8:
		return int(x)
	case int16:
		return int(x)
	case int32:
		return int(x)
	case int64:
		return int(x)
	case uint8:
		return int(x)
	case uint16:
		return int(x)
	case uint32:
		return int(x)
	case uint64:
		if x > 1<<62 {
			return float64(x)
		}
		return int(x)
	case uint:
		return RowValue(uint64(x))
	case float32:
		return float64(x)
	case time.Time:
		return x.UTC()
	case *string:
		if x == nil {
			return ""
		}
		return *x
	case []string:
		return x
	case []any:
		ss := make([]string, 0, len(x))
		for _, it := range x {
			s, ok := it.(string)
			if !ok {
				out := make([]any, len(x))
				for i, it := range x {
					out[i] = RowValue(it)
				}
				return out
			}
			ss = append(ss, s)
		}
		return ss
	}
	return v
}

// repeat reads the test-only keys of a canonical event: `repeat: N` makes
// N copies, `every: 10s` apart (1s by default), ids suffixed -1, -2, ….
func repeat(v map[string]any) (copies int, every time.Duration, baseID, baseTime string, err error) {
	n, ok := v["repeat"]
	if !ok {
		return 1, 0, "", "", nil
	}
	if copies, _ = n.(int); copies < 1 {
		return 0, 0, "", "", fmt.Errorf("repeat: want a positive count, got %v", n)
	}
	every = time.Second
	if e, ok := v["every"].(string); ok {
		if every, err = parseDuration(e); err != nil {
			return 0, 0, "", "", fmt.Errorf("every: %v", err)
		}
	}
	baseID, _ = v["id"].(string)
	baseTime, _ = v["time"].(string)
	delete(v, "repeat")
	delete(v, "every")
	return copies, every, baseID, baseTime, nil
}

// shift sets copy i's id and time.
func shift(v map[string]any, i int, every time.Duration, base, baseTime string) error {
	if base == "" {
		base = "event"
	}
	t0, err := time.Parse(time.RFC3339Nano, baseTime)
	if err != nil {
		return fmt.Errorf("repeat needs an RFC 3339 time: %v", err)
	}
	v["id"] = fmt.Sprintf("%s-%d", base, i+1)
	v["time"] = t0.Add(time.Duration(i) * every).Format(time.RFC3339Nano)
	return nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func isIdent(s string) bool { return identRE.MatchString(s) }

// compile compiles the expression in node, with the first nMacros macros
// inlined where it names them, and reports errors at their place in the
// file.
func (l *loader) compile(p *parsed, node *yaml.Node, asBool bool, nMacros int) (*vm.Program, bool) {
	return l.compileIn(p, node, asBool, nMacros, Env{})
}

// compileRow compiles an expression of a scheduled rule, which sees a row
// (RowEnv) rather than an event, and no macros (they are about events).
func (l *loader) compileRow(p *parsed, node *yaml.Node, asBool bool) (*vm.Program, bool) {
	return l.compileIn(p, node, asBool, 0, RowEnv{})
}

func (l *loader) compileIn(p *parsed, node *yaml.Node, asBool bool, nMacros int, env any) (*vm.Program, bool) {
	src := node.Value
	if err := checkBounds(src); err != nil {
		l.errorf(p.name, node.Line, node.Column, "%v", err)
		return nil, false
	}
	for i := 0; i < nMacros; i++ {
		if m := l.s.macros[i]; !m.ok && usesName(src, m.name) {
			l.errorf(p.name, node.Line, node.Column, "uses macro %s, which does not compile (%s)", m.name, m.origin)
			return nil, false
		}
	}
	chk := &checker{s: l.s}
	in := &inliner{l: l, n: nMacros, budget: maxNodes}
	opts := append([]expr.Option{expr.Env(env), expr.Patch(in), expr.Patch(chk)}, l.s.helpers()...)
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := safeCompile(src, opts)
	if in.budget < 0 {
		l.errorf(p.name, node.Line, node.Column, "expression is more than %d nodes once its macros are expanded", maxNodes)
		return nil, false
	}
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			line, col := position(p, node, fe.Line, fe.Column)
			l.errorf(p.name, line, col, "%s", fe.Message)
		} else {
			l.errorf(p.name, node.Line, node.Column, "%v", err)
		}
		return nil, false
	}
	for _, ce := range chk.errs {
		el, ec := offsetPos(src, ce.from)
		line, col := position(p, node, el, ec)
		l.errorf(p.name, line, col, "%s", ce.msg)
	}
	return prog, len(chk.errs) == 0
}

// inliner replaces the names of macros by their expressions, so that a
// macro costs what its expression costs where it is used, and && and ||
// short-circuit through it.
type inliner struct {
	l      *loader
	n      int // macros defined before the expression
	budget int // nodes left; below 0 the expression is too large
}

func (in *inliner) Visit(node *ast.Node) {
	if in.budget--; in.budget < 0 {
		return
	}
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	for i := in.n - 1; i >= 0; i-- {
		if m := in.l.s.macros[i]; m.name == id.Value {
			tree, err := parser.Parse(m.text)
			if err != nil {
				return
			}
			// Macros used by the macro: it may use those defined before it.
			sub := &inliner{l: in.l, n: i, budget: in.budget}
			ast.Walk(&tree.Node, sub)
			in.budget = sub.budget
			ast.Patch(node, tree.Node)
			return
		}
	}
}

// safeCompile compiles, turning a panic inside expr (it has a few, on
// unusual expressions) into an error: a rules file must not crash scimwatch.
func safeCompile(src string, opts []expr.Option) (prog *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("expression cannot be compiled (expr panicked: %v); rewrite it, for example with find() instead of filter()[0]", r)
		}
	}()
	prog, err = expr.Compile(src, opts...)
	var fe *file.Error
	if err != nil && !errors.As(err, &fe) {
		// expr's compiler recovers its own panics and returns them with a
		// Go stack trace: keep the first line, which says what failed.
		if msg, _, cut := strings.Cut(err.Error(), "\n"); cut {
			err = fmt.Errorf("expression cannot be compiled (expr failed: %s); rewrite it, for example with find() instead of filter()[0]", msg)
		}
	}
	return prog, err
}

func usesName(text, name string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		j += i
		before := j == 0 || !isIdentByte(text[j-1]) && text[j-1] != '.'
		after := j+len(name) == len(text) || !isIdentByte(text[j+len(name)])
		if before && after {
			return true
		}
		i = j + len(name)
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// offsetPos returns the 1-based line and 0-based column of a byte offset.
func offsetPos(s string, off int) (int, int) {
	off = min(max(off, 0), len(s))
	line := 1 + strings.Count(s[:off], "\n")
	return line, off - (strings.LastIndexByte(s[:off], '\n') + 1)
}

// position maps a 1-based line and 0-based column inside a scalar's value
// to the file's line and 1-based column.
func position(p *parsed, node *yaml.Node, line, col int) (int, int) {
	if line < 1 {
		line = 1
	}
	if node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		fl := node.Line + line
		indent := 0
		if fl-1 < len(p.lines) {
			t := p.lines[fl-1]
			indent = len(t) - len(strings.TrimLeft(t, " "))
		}
		return fl, indent + col + 1
	}
	if line == 1 {
		c := node.Column + col
		if node.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			c++
		}
		return node.Line, c
	}
	return node.Line + line - 1, col + 1
}
