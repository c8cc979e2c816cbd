package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Compiling: expressions parsed within bounds, macros inlined, errors placed in the file.

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
