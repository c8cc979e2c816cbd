package rules

import (
	"slices"

	"github.com/expr-lang/expr/ast"
)

// actionsOf returns the actions an event must have for src to be true, or
// nil when src can be true for any action. It understands
// `action == "x"`, `action in ["x", "y"]`, && (either side constrains),
// || (both sides must), parentheses, and macros used by name.
func (l *loader) actionsOf(src string, nMacros int) []string {
	tree, err := parseBounded(src)
	if err != nil {
		return nil
	}
	l.budget = maxNodes
	return l.actionsOfNode(tree.Node, nMacros, 0)
}

func (l *loader) actionsOfNode(n ast.Node, nMacros, depth int) []string {
	if l.budget--; depth > 32 || l.budget < 0 {
		return nil // any action: a wider index, never a wrong one
	}
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "==":
			if isAction(n.Left) {
				if s, ok := n.Right.(*ast.StringNode); ok {
					return []string{s.Value}
				}
			}
			if isAction(n.Right) {
				if s, ok := n.Left.(*ast.StringNode); ok {
					return []string{s.Value}
				}
			}
		case "in":
			if arr, ok := n.Right.(*ast.ArrayNode); ok && isAction(n.Left) {
				var out []string
				for _, e := range arr.Nodes {
					s, ok := e.(*ast.StringNode)
					if !ok {
						return nil
					}
					out = append(out, s.Value)
				}
				return out
			}
		case "&&", "and":
			l, r := l.actionsOfNode(n.Left, nMacros, depth+1), l.actionsOfNode(n.Right, nMacros, depth+1)
			switch {
			case l == nil:
				return r
			case r == nil:
				return l
			}
			out := []string{}
			for _, a := range l {
				if slices.Contains(r, a) {
					out = append(out, a)
				}
			}
			return out
		case "||", "or":
			l, r := l.actionsOfNode(n.Left, nMacros, depth+1), l.actionsOfNode(n.Right, nMacros, depth+1)
			if l == nil || r == nil {
				return nil
			}
			out := append(slices.Clone(l), r...)
			slices.Sort(out)
			return slices.Compact(out)
		}
	case *ast.IdentifierNode:
		for i := 0; i < nMacros; i++ {
			if m := l.s.macros[i]; m.name == n.Value {
				tree, err := parseBounded(m.text)
				if err != nil {
					return nil
				}
				return l.actionsOfNode(tree.Node, i, depth+1)
			}
		}
	}
	return nil
}

func isAction(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == "action"
}
