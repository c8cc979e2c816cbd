package rules

import (
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"

	"github.com/scimwatch/scimwatch/event"
)

// Guard is a necessary condition of an expression, in Go: when it is false
// the expression is false, so the expression need not run. It reads the
// event's string fields without boxing them, which is what lets an event
// that no rule matches pass the whole rule set without allocating.
type Guard func(e *event.Event) bool

// guardFields are the fields a guard can read.
var guardFields = map[string]func(e *event.Event) string{
	"id":               func(e *event.Event) string { return e.ID },
	"tenant":           func(e *event.Event) string { return e.Tenant },
	"source":           func(e *event.Event) string { return e.Source },
	"raw_type":         func(e *event.Event) string { return e.RawType },
	"action":           func(e *event.Event) string { return e.Action },
	"outcome":          func(e *event.Event) string { return e.Outcome },
	"reason":           func(e *event.Event) string { return e.Reason },
	"correlation_id":   func(e *event.Event) string { return e.CorrelationID },
	"actor.id":         func(e *event.Event) string { return e.Actor.ID },
	"actor.type":       func(e *event.Event) string { return e.Actor.Type },
	"actor.name":       func(e *event.Event) string { return e.Actor.Name },
	"actor.email":      func(e *event.Event) string { return e.Actor.Email },
	"actor.ip":         func(e *event.Event) string { return e.Actor.IP },
	"actor.user_agent": func(e *event.Event) string { return e.Actor.UserAgent },
	"trimmed.time":     func(e *event.Event) string { return e.Trimmed.Time },
}

// guardOf derives the guard of src (nil: none known) and reports whether it
// is exact: equal to the expression, so that the expression need not run
// at all. It understands comparisons of the fields above (and of
// lower(field) and email_domain(field)) with string constants (==, !=, in,
// startsWith, endsWith, contains), !, && and ||, true and false,
// any(targets, …) and any(changes, …) over their fields, len(targets),
// len(changes) and the trimmed.* counts against integers, in_list(field, "list"), and macros by
// name, and comparisons of two such fields with == and !=. Anything else is
// taken as possibly true, and makes it inexact.
func (l *loader) guardOf(src string, nMacros int) (Guard, bool) {
	tree, err := parseBounded(src)
	if err != nil {
		return nil, false
	}
	l.budget = maxNodes
	return l.guardNode(tree.Node, nMacros, 0)
}

func (l *loader) guardNode(n ast.Node, nMacros, depth int) (Guard, bool) {
	// Past the depth or the node budget (macros that use macros twice
	// expand exponentially), the rest is "possibly true": a weaker guard,
	// never a wrong one.
	if l.budget--; depth > 64 || l.budget < 0 {
		return nil, false
	}
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func(*event.Event) bool { return v }, true
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			if g, exact := l.guardNode(n.Node, nMacros, depth+1); exact {
				return func(e *event.Event) bool { return !g(e) }, true
			}
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			a, ea := l.guardNode(n.Left, nMacros, depth+1)
			b, eb := l.guardNode(n.Right, nMacros, depth+1)
			switch {
			case a == nil:
				return b, false
			case b == nil:
				return a, false
			}
			return func(e *event.Event) bool { return a(e) && b(e) }, ea && eb
		case "||", "or":
			a, ea := l.guardNode(n.Left, nMacros, depth+1)
			b, eb := l.guardNode(n.Right, nMacros, depth+1)
			if a == nil || b == nil {
				return nil, false
			}
			return func(e *event.Event) bool { return a(e) || b(e) }, ea && eb
		}
		if g := l.lenComparison(n); g != nil {
			return g, true
		}
		if g := l.comparison(n, eventField); g != nil {
			return g, true
		}
	case *ast.BuiltinNode:
		if n.Name == "any" && len(n.Arguments) == 2 {
			if g := l.anyOf(n); g != nil {
				return g, true
			}
		}
	case *ast.CallNode:
		if g := l.inList(n, eventField); g != nil {
			return g, true
		}
	case *ast.IdentifierNode:
		for i := nMacros - 1; i >= 0; i-- {
			if m := l.s.macros[i]; m.name == n.Value {
				tree, err := parseBounded(m.text)
				if err != nil {
					return nil, false
				}
				return l.guardNode(tree.Node, i, depth+1)
			}
		}
	}
	return nil, false
}

// countOf reads len(targets), len(changes) or a trimmed.* count.
func countOf(n ast.Node) func(e *event.Event) int {
	switch n := n.(type) {
	case *ast.BuiltinNode:
		if n.Name != "len" || len(n.Arguments) != 1 {
			return nil
		}
		if id, ok := n.Arguments[0].(*ast.IdentifierNode); ok {
			switch id.Value {
			case "targets":
				return func(e *event.Event) int { return len(e.Targets) }
			case "changes":
				return func(e *event.Event) int { return len(e.Changes) }
			}
		}
	case *ast.MemberNode:
		id, ok1 := n.Node.(*ast.IdentifierNode)
		prop, ok2 := n.Property.(*ast.StringNode)
		if ok1 && ok2 && !n.Optional && id.Value == "trimmed" {
			switch prop.Value {
			case "targets":
				return func(e *event.Event) int { return e.Trimmed.Targets }
			case "changes":
				return func(e *event.Event) int { return e.Trimmed.Changes }
			case "strings":
				return func(e *event.Event) int { return e.Trimmed.Strings }
			case "unread":
				return func(e *event.Event) int { return e.Trimmed.Unread }
			}
		}
	}
	return nil
}

// fieldFunc reads a string field of the event, or of the element of the
// collection an any() predicate is on.
type fieldFunc func(e *event.Event, i int) string

// fieldResolver maps an AST node to a field reader.
type fieldResolver func(n ast.Node) (fieldFunc, bool)

func eventField(n ast.Node) (fieldFunc, bool) {
	var name string
	switch n := n.(type) {
	case *ast.IdentifierNode:
		name = n.Value
	case *ast.MemberNode:
		id, ok1 := n.Node.(*ast.IdentifierNode)
		prop, ok2 := n.Property.(*ast.StringNode)
		if !ok1 || !ok2 || n.Optional {
			return nil, false
		}
		name = id.Value + "." + prop.Value
	default:
		return nil, false
	}
	f, ok := guardFields[name]
	if !ok {
		return nil, false
	}
	return func(e *event.Event, _ int) string { return f(e) }, true
}

var targetFields = map[string]func(t *event.Target) string{
	"id": func(t *event.Target) string { return t.ID }, "type": func(t *event.Target) string { return t.Type },
	"name": func(t *event.Target) string { return t.Name }, "email": func(t *event.Target) string { return t.Email },
}

var changeFields = map[string]func(c *event.Change) string{
	"field": func(c *event.Change) string { return c.Field }, "old": func(c *event.Change) string { return c.Old },
	"new": func(c *event.Change) string { return c.New },
}

// elementField resolves `.name` inside any(targets, …) or any(changes, …).
func elementField(collection string) fieldResolver {
	return func(n ast.Node) (fieldFunc, bool) {
		m, ok := n.(*ast.MemberNode)
		if !ok {
			return eventField(n)
		}
		if _, ok := m.Node.(*ast.PointerNode); !ok {
			return eventField(n)
		}
		prop, ok := m.Property.(*ast.StringNode)
		if !ok {
			return nil, false
		}
		switch collection {
		case "targets":
			if f, ok := targetFields[prop.Value]; ok {
				return func(e *event.Event, i int) string { return f(&e.Targets[i]) }, true
			}
		case "changes":
			if f, ok := changeFields[prop.Value]; ok {
				return func(e *event.Event, i int) string { return f(&e.Changes[i]) }, true
			}
		}
		return nil, false
	}
}

// wrapped resolves lower(x) and email_domain(x) around a field.
func wrapped(n ast.Node, resolve fieldResolver) (fieldFunc, bool) {
	switch c := n.(type) {
	case *ast.BuiltinNode:
		if c.Name == "lower" && len(c.Arguments) == 1 {
			if f, ok := resolve(c.Arguments[0]); ok {
				return func(e *event.Event, i int) string { return strings.ToLower(f(e, i)) }, true
			}
		}
	case *ast.CallNode:
		if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == "email_domain" && len(c.Arguments) == 1 {
			if f, ok := resolve(c.Arguments[0]); ok {
				return func(e *event.Event, i int) string { return emailDomain(f(e, i)) }, true
			}
		}
	}
	return resolve(n)
}

func emailDomain(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return strings.ToLower(s[i+1:])
	}
	return ""
}

// elemGuard is a guard over one element of a collection.
type elemGuard func(e *event.Event, i int) bool

func (l *loader) comparison(n *ast.BinaryNode, resolve fieldResolver) Guard {
	g := l.elemComparison(n, resolve)
	if g == nil {
		return nil
	}
	return func(e *event.Event) bool { return g(e, 0) }
}

func (l *loader) elemComparison(n *ast.BinaryNode, resolve fieldResolver) elemGuard {
	field, ok := wrapped(n.Left, resolve)
	if !ok {
		return nil
	}
	if arr, ok := n.Right.(*ast.ArrayNode); ok && n.Operator == "in" {
		var set []string
		for _, x := range arr.Nodes {
			s, ok := x.(*ast.StringNode)
			if !ok {
				return nil
			}
			set = append(set, s.Value)
		}
		return func(e *event.Event, i int) bool { return slices.Contains(set, field(e, i)) }
	}
	c, ok := n.Right.(*ast.StringNode)
	if !ok {
		// field == field, such as .id == actor.id inside any(targets, …).
		other, ok := wrapped(n.Right, resolve)
		switch {
		case !ok:
			return nil
		case n.Operator == "==":
			return func(e *event.Event, i int) bool { return field(e, i) == other(e, i) }
		case n.Operator == "!=":
			return func(e *event.Event, i int) bool { return field(e, i) != other(e, i) }
		}
		return nil
	}
	v := c.Value
	switch n.Operator {
	case "==":
		return func(e *event.Event, i int) bool { return field(e, i) == v }
	case "!=":
		return func(e *event.Event, i int) bool { return field(e, i) != v }
	case "startsWith":
		return func(e *event.Event, i int) bool { return strings.HasPrefix(field(e, i), v) }
	case "endsWith":
		return func(e *event.Event, i int) bool { return strings.HasSuffix(field(e, i), v) }
	case "contains":
		return func(e *event.Event, i int) bool { return strings.Contains(field(e, i), v) }
	}
	return nil
}

// inList is in_list(field, "list") with a known list.
func (l *loader) inList(n *ast.CallNode, resolve fieldResolver) Guard {
	g := l.elemInList(n, resolve)
	if g == nil {
		return nil
	}
	return func(e *event.Event) bool { return g(e, 0) }
}

func (l *loader) elemInList(n *ast.CallNode, resolve fieldResolver) elemGuard {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != "in_list" || len(n.Arguments) != 2 {
		return nil
	}
	name, ok := n.Arguments[1].(*ast.StringNode)
	if !ok {
		return nil
	}
	list, known := l.s.lists[name.Value]
	if !known {
		return nil
	}
	field, ok := wrapped(n.Arguments[0], resolve)
	if !ok {
		return nil
	}
	return func(e *event.Event, i int) bool { return list[field(e, i)] }
}

// elemPredicate translates the predicate of any(collection, …), exactly or
// not at all.
func (l *loader) elemPredicate(n ast.Node, resolve fieldResolver, depth int) elemGuard {
	if depth > 32 {
		return nil
	}
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and", "||", "or":
			a, b := l.elemPredicate(n.Left, resolve, depth+1), l.elemPredicate(n.Right, resolve, depth+1)
			if a == nil || b == nil {
				return nil
			}
			if n.Operator == "&&" || n.Operator == "and" {
				return func(e *event.Event, i int) bool { return a(e, i) && b(e, i) }
			}
			return func(e *event.Event, i int) bool { return a(e, i) || b(e, i) }
		}
		return l.elemComparison(n, resolve)
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			if g := l.elemPredicate(n.Node, resolve, depth+1); g != nil {
				return func(e *event.Event, i int) bool { return !g(e, i) }
			}
		}
	case *ast.CallNode:
		return l.elemInList(n, resolve)
	}
	return nil
}

func (l *loader) anyOf(n *ast.BuiltinNode) Guard {
	coll, ok := n.Arguments[0].(*ast.IdentifierNode)
	if !ok || coll.Value != "targets" && coll.Value != "changes" {
		return nil
	}
	pred, ok := n.Arguments[1].(*ast.PredicateNode)
	if !ok {
		return nil
	}
	g := l.elemPredicate(pred.Node, elementField(coll.Value), 0)
	if g == nil {
		return nil
	}
	if coll.Value == "targets" {
		return func(e *event.Event) bool {
			for i := range e.Targets {
				if g(e, i) {
					return true
				}
			}
			return false
		}
	}
	return func(e *event.Event) bool {
		for i := range e.Changes {
			if g(e, i) {
				return true
			}
		}
		return false
	}
}

// lenComparison is len(targets|changes) OP integer.
func (l *loader) lenComparison(n *ast.BinaryNode) Guard {
	c, ok := n.Right.(*ast.IntegerNode)
	if !ok {
		return nil
	}
	size := countOf(n.Left)
	if size == nil {
		return nil
	}
	v := c.Value
	switch n.Operator {
	case ">":
		return func(e *event.Event) bool { return size(e) > v }
	case ">=":
		return func(e *event.Event) bool { return size(e) >= v }
	case "<":
		return func(e *event.Event) bool { return size(e) < v }
	case "<=":
		return func(e *event.Event) bool { return size(e) <= v }
	case "==":
		return func(e *event.Event) bool { return size(e) == v }
	case "!=":
		return func(e *event.Event) bool { return size(e) != v }
	}
	return nil
}
