package scimgateway

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Request is what a rule sees of a SCIM request.
type Request struct {
	// Client is the fingerprint of the caller's credential.
	Client string `expr:"client"`
	Method string `expr:"method"`
	// Path is the request's path; Resource its resource type (Users,
	// Groups, Bulk, ServiceProviderConfig, ...) and ID the resource's id,
	// if any.
	Path     string `expr:"path"`
	Resource string `expr:"resource"`
	ID       string `expr:"id"`
	// Attributes are those the request writes (a POST or PUT body's, a
	// PATCH's paths and value keys), as written, lower-cased.
	Attributes []string `expr:"attributes"`
	// NewAttributes are those of Attributes this client never wrote
	// before (since the gateway started; bounded by max_clients).
	NewAttributes []string `expr:"new_attributes"`
	// Filter and Count are a list request's filter and count; Count is -1
	// when the request gives none.
	Filter string `expr:"filter"`
	Count  int    `expr:"count"`
	IP     string `expr:"ip"`
}

// maxExpr bounds a rule's source and its tree: a rules file cannot make
// the gateway compile or run something huge.
const maxExpr = 4096

func compile(src string) (prog *vm.Program, err error) {
	if src == "" {
		return nil, errEmpty
	}
	if len(src) > maxExpr {
		return nil, fmt.Errorf("longer than %d bytes", maxExpr)
	}
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("does not compile: %v", r)
		}
	}()
	return expr.Compile(src, expr.Env(Request{}), expr.AsBool(), expr.MaxNodes(2000))
}

// compiled is a rule ready to run.
type compiled struct {
	Rule
	prog *vm.Program
}

func compileRules(rs []Rule) ([]compiled, error) {
	out := make([]compiled, 0, len(rs))
	var errs []error
	for _, r := range rs {
		p, err := compile(r.Deny)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", r.Name, err))
			continue
		}
		out = append(out, compiled{Rule: r, prog: p})
	}
	return out, errors.Join(errs...)
}

// denies returns the first rule that refuses req. A rule that fails at
// run time does not refuse (the gateway must not stop an app's
// provisioning for a rule's bug); it is counted.
func denies(rs []compiled, req *Request, failed func(rule string, err error)) *compiled {
	for i := range rs {
		out, err := run(rs[i].prog, req)
		if err != nil {
			failed(rs[i].Name, err)
			continue
		}
		if b, _ := out.(bool); b {
			return &rs[i]
		}
	}
	return nil
}

func run(p *vm.Program, req *Request) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return expr.Run(p, *req)
}
