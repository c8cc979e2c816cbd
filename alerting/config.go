package alerting

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"time"
)

// Config is the notifier's part of the `alerting:` section; the
// integrations (slack:, alertmanager:) have their own.
type Config struct {
	// GroupBy are the labels whose alerts go out as one notification:
	// rule, severity, tenant, actor, key.
	GroupBy []string `yaml:"group_by"`
	// GroupWait is how long a new notification waits for more alerts of its
	// group before it goes out; critical alerts do not wait.
	GroupWait time.Duration `yaml:"group_wait"`
	// GroupInterval is the least time between two updates of one
	// notification (repeats edit it). People's actions and resolution do
	// not wait.
	GroupInterval time.Duration `yaml:"group_interval"`
	// RepeatInterval is how often a notification whose alerts are still
	// firing, and acknowledged by nobody, is repeated (a thread reply).
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	// KeepFor is how long a notification whose alerts stay open (one-shot
	// alerts nobody closed) is kept in memory, and reloaded at start.
	KeepFor time.Duration `yaml:"keep_for"`
	// MaxOpen bounds the alerts held in memory; past it the oldest
	// notifications are dropped from memory (they stay stored) and counted.
	MaxOpen int `yaml:"max_open_alerts"`
	// Inhibit rules: while an open alert matches a rule's source, alerts
	// matching its target with the same equal labels are not notified.
	Inhibit []InhibitRule `yaml:"inhibit"`
}

// InhibitRule mutes target alerts while a source alert is open.
type InhibitRule struct {
	Source Matchers `yaml:"source"`
	Target Matchers `yaml:"target"`
	Equal  []string `yaml:"equal"`
}

// Matchers match alerts by label: every label named must match its
// pattern (shell-style, path.Match); an empty Matchers matches everything.
type Matchers map[string]string

// Matches reports whether a has every label m names.
func (m Matchers) Matches(a *Alert) bool {
	for label, pattern := range m {
		v := a.Label(label)
		if label == "target" {
			if !slices.ContainsFunc(a.Targets, func(t string) bool { return globMatch(pattern, t) }) {
				return false
			}
			continue
		}
		if !globMatch(pattern, v) {
			return false
		}
	}
	return true
}

func globMatch(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return ok && err == nil
}

// Labels matchers may name.
var labels = []string{"rule", "severity", "tenant", "actor", "key", "target"}

func (m Matchers) validate(p string) []error {
	var errs []error
	for _, l := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(labels, l) {
			errs = append(errs, fmt.Errorf("%s.%s: not a label (want one of %v)", p, l, labels))
		}
		if _, err := path.Match(m[l], ""); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: bad pattern %q: %v", p, l, m[l], err))
		}
	}
	return errs
}

// DefaultConfig returns the defaults, in the spirit of Alertmanager's:
// group by rule and tenant, wait 30 s (critical: none), update at most once a
// minute, repeat every 4 hours; and the built-in rules' inhibition.
func DefaultConfig() Config {
	c := Config{GroupBy: []string{"rule", "tenant"}, GroupWait: 30 * time.Second, GroupInterval: time.Minute,
		RepeatInterval: 4 * time.Hour, KeepFor: 7 * 24 * time.Hour, MaxOpen: 100000,
		// While an actor's bulk role change is open, that actor's privileged
		// grants are part of it, not news.
		Inhibit: []InhibitRule{{Source: Matchers{"rule": "bulk-role-change"}, Target: Matchers{"rule": "privileged-role-grant"},
			Equal: []string{"tenant", "actor"}}}}
	return c
}

// Validate reports every problem, each with its path under alerting.
func (c *Config) Validate() error {
	var errs []error
	for i, l := range c.GroupBy {
		if !slices.Contains(labels, l) || l == "target" {
			errs = append(errs, fmt.Errorf("alerting.group_by[%d]: %q is not a label (want rule, severity, tenant, actor or key)", i, l))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{{"group_wait", c.GroupWait, 0}, {"group_interval", c.GroupInterval, 0}, {"repeat_interval", c.RepeatInterval, time.Minute}, {"keep_for", c.KeepFor, time.Hour}} {
		if d.v < d.min {
			errs = append(errs, fmt.Errorf("alerting.%s: %v is less than %v", d.name, d.v, d.min))
		}
	}
	if c.MaxOpen <= 0 {
		errs = append(errs, errors.New("alerting.max_open_alerts: must be positive"))
	}
	for i, r := range c.Inhibit {
		p := fmt.Sprintf("alerting.inhibit[%d]", i)
		if len(r.Source) == 0 || len(r.Target) == 0 {
			errs = append(errs, fmt.Errorf("%s: source and target are required", p))
		}
		errs = append(errs, r.Source.validate(p+".source")...)
		errs = append(errs, r.Target.validate(p+".target")...)
		for _, l := range r.Equal {
			if !slices.Contains(labels, l) || l == "target" {
				errs = append(errs, fmt.Errorf("%s.equal: %q is not a label", p, l))
			}
		}
	}
	return errors.Join(errs...)
}
