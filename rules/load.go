package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

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
