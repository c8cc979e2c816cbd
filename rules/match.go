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

// Match reports whether r fires on e: its when is true and none of its
// exceptions is.
func (m *Matcher) Match(r *Rule, e *event.Event) (bool, error) {
	env := Env{e}
	out, err := m.vm.Run(r.when, env)
	if err != nil {
		return false, fmt.Errorf("rule %s: when: %w", r.ID, err)
	}
	if hit, _ := out.(bool); !hit {
		return false, nil
	}
	for i, ex := range r.exceptions {
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
