package rules

import (
	"fmt"

	"github.com/expr-lang/expr/vm"

	"github.com/scimwatch/scimwatch/event"
)

// Matcher evaluates rules. It reuses one expression VM, so it is not safe
// for concurrent use: use one per goroutine.
type Matcher struct {
	vm vm.VM
}

// Match reports whether r's condition holds for e: its when is true and
// none of its exceptions is. A sequence rule has no when: it never matches
// here (the engine evaluates its steps).
func (m *Matcher) Match(r *Rule, e *event.Event) (bool, error) {
	if r.When == nil || r.Guard != nil && !r.Guard(e) {
		return false, nil
	}
	if !r.Exact {
		hit, err := m.True(r.When, e)
		if err != nil {
			return false, fmt.Errorf("rule %s: when: %w", r.ID, err)
		}
		if !hit {
			return false, nil
		}
	}
	ex, err := m.Excepted(r, e)
	return !ex && err == nil, err
}

// Eval runs one compiled expression of a rule on e.
func (m *Matcher) Eval(p *vm.Program, e *event.Event) (any, error) {
	return m.vm.Run(p, Env{e})
}

// True runs a boolean expression on e; an error counts as false and is
// returned.
func (m *Matcher) True(p *vm.Program, e *event.Event) (bool, error) {
	out, err := m.vm.Run(p, Env{e})
	hit, _ := out.(bool)
	return hit && err == nil, err
}

// Excepted reports whether one of r's exceptions holds for e.
func (m *Matcher) Excepted(r *Rule, e *event.Event) (bool, error) {
	for i, ex := range r.Exceptions {
		if g := r.ExceptionGuards[i]; g != nil {
			if g(e) {
				return true, nil
			}
			continue
		}
		hit, err := m.True(ex, e)
		if err != nil {
			return false, fmt.Errorf("rule %s: exception %d: %w", r.ID, i+1, err)
		}
		if hit {
			return true, nil
		}
	}
	return false, nil
}

// MatchRow reports whether a scheduled rule's condition holds for a row:
// its when is true and none of its exceptions is.
func (m *Matcher) MatchRow(r *Rule, env *RowEnv) (bool, error) {
	out, err := m.vm.Run(r.When, env)
	if err != nil {
		return false, fmt.Errorf("rule %s: when: %w", r.ID, err)
	}
	if hit, _ := out.(bool); !hit {
		return false, nil
	}
	for i, ex := range r.Exceptions {
		out, err := m.vm.Run(ex, env)
		if err != nil {
			return false, fmt.Errorf("rule %s: exception %d: %w", r.ID, i+1, err)
		}
		if hit, _ := out.(bool); hit {
			return false, nil
		}
	}
	return true, nil
}

// EvalRow runs an expression of a scheduled rule on a row.
func (m *Matcher) EvalRow(p *vm.Program, env *RowEnv) (any, error) {
	return m.vm.Run(p, env)
}
