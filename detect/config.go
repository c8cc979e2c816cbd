package detect

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/scimwatch/scimwatch/rules"
)

// Config tunes the engine.
type Config struct {
	// AllowedLateness is how long windows and sequences wait for late
	// events: an event is evaluated by them once the stream's event time
	// is this much past it (or, on a quiet stream, once this much wall-clock
	// time passed). An event later than that is evaluated at once, out of
	// order, and counted. Simple rules do not wait: they alert as soon as
	// the event is read.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// MaxFutureSkew is how far ahead of the wall clock an event's time may
	// be. An event further ahead (a source whose clock lies) is counted, does
	// not move the stream's event time, and is evaluated at once as if it
	// happened at the current event time. 0 turns the check off.
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`
	// MaxKeys bounds the window, sequence and dedup state of each rule;
	// past it the least recently updated keys are evicted and counted.
	MaxKeys int `yaml:"max_keys"`
	// MaxTerms bounds the terms each new_term rule remembers; past it the
	// tenth seen longest ago are forgotten at once, and counted.
	MaxTerms int `yaml:"max_terms"`
	// MaxBaselineHours bounds the hours with events each baseline rule
	// keeps over all its keys (8 bytes each); past it the tenth of the keys
	// active longest ago are forgotten at once, and counted.
	MaxBaselineHours int `yaml:"max_baseline_hours"`
	// RepeatHorizon is how long (in event time) the engine remembers the
	// ids of the events it saw, so that an event delivered again (a
	// collector's page fetched again after a crash, an Event Hook
	// delivered twice) counts once in windows, sequences and learned
	// terms and baselines. 0 turns it off.
	RepeatHorizon time.Duration `yaml:"repeat_horizon"`
	// MaxRepeatIDs bounds the ids remembered (about 24 bytes each); past
	// it the tenth seen longest ago are forgotten at once, and counted.
	MaxRepeatIDs int `yaml:"max_repeat_ids"`
	// MaxEventIDs bounds the event ids an alert carries.
	MaxEventIDs int `yaml:"max_event_ids"`
	// MaxPendingAlerts bounds the alerts kept while the sink refuses them;
	// past it the oldest are dropped and counted.
	MaxPendingAlerts int `yaml:"max_pending_alerts"`
	// Overrides change a rule's threshold for one tenant:
	// tenant -> rule id -> override.
	Overrides map[string]map[string]Override `yaml:"overrides"`

	// Now is the wall clock (time.Now when nil); tests set it.
	Now func() time.Time `yaml:"-"`
}

// Override is a per-tenant threshold, or per-tenant params of a scheduled
// rule.
type Override struct {
	Count  int            `yaml:"count"`
	Window time.Duration  `yaml:"window"`
	Params map[string]any `yaml:"params"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{AllowedLateness: time.Minute, MaxFutureSkew: 5 * time.Minute, MaxKeys: 100000, MaxTerms: 1000000,
		MaxBaselineHours: 4000000, MaxEventIDs: 20, MaxPendingAlerts: 10000,
		RepeatHorizon: 6 * time.Hour, MaxRepeatIDs: 1000000}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var errs []error
	if c.AllowedLateness < 0 {
		errs = append(errs, errors.New("allowed_lateness: negative"))
	}
	if c.MaxFutureSkew < 0 {
		errs = append(errs, errors.New("max_future_skew: negative"))
	}
	if c.RepeatHorizon < 0 {
		errs = append(errs, errors.New("repeat_horizon: negative"))
	}
	if c.RepeatHorizon > 0 && c.MaxRepeatIDs <= 0 {
		errs = append(errs, errors.New("max_repeat_ids: must be positive while repeat_horizon is set"))
	}
	if c.MaxKeys <= 0 {
		errs = append(errs, errors.New("max_keys: must be positive"))
	}
	if c.MaxTerms <= 0 {
		errs = append(errs, errors.New("max_terms: must be positive"))
	}
	if c.MaxBaselineHours <= 0 {
		errs = append(errs, errors.New("max_baseline_hours: must be positive"))
	}
	if c.MaxEventIDs <= 0 {
		errs = append(errs, errors.New("max_event_ids: must be positive"))
	}
	if c.MaxPendingAlerts <= 0 {
		errs = append(errs, errors.New("max_pending_alerts: must be positive"))
	}
	for _, t := range slices.Sorted(maps.Keys(c.Overrides)) {
		for _, r := range slices.Sorted(maps.Keys(c.Overrides[t])) {
			o := c.Overrides[t][r]
			if o.Count < 0 || o.Window < 0 {
				errs = append(errs, fmt.Errorf("overrides.%s.%s: count and window must not be negative", t, r))
			}
			if o.Count > rules.MaxThresholdCount {
				errs = append(errs, fmt.Errorf("overrides.%s.%s: count must be at most %d", t, r, rules.MaxThresholdCount))
			}
		}
	}
	return errors.Join(errs...)
}

// CheckRules reports overrides that name no threshold rule of set: a typo
// in a rule id would otherwise leave the tenant on the default threshold
// without a word.
func (c *Config) CheckRules(set *rules.Set) error {
	byID := map[string]*rules.Rule{}
	for _, r := range set.Rules {
		byID[r.ID] = r
	}
	var errs []error
	for _, t := range slices.Sorted(maps.Keys(c.Overrides)) {
		for _, id := range slices.Sorted(maps.Keys(c.Overrides[t])) {
			r, o := byID[id], c.Overrides[t][id]
			switch {
			case r == nil:
				errs = append(errs, fmt.Errorf("overrides.%s.%s: no rule has the id %q", t, id, id))
			case r.Scheduled != nil:
				if o.Count != 0 || o.Window != 0 {
					errs = append(errs, fmt.Errorf("overrides.%s.%s: rule %q is scheduled: override its params, not count or window", t, id, id))
				}
				for _, p := range slices.Sorted(maps.Keys(o.Params)) {
					if _, ok := r.Scheduled.Params[p]; !ok {
						errs = append(errs, fmt.Errorf("overrides.%s.%s.params.%s: rule %q has no param %q", t, id, p, id, p))
					}
				}
			case r.Threshold == nil:
				errs = append(errs, fmt.Errorf("overrides.%s.%s: rule %q has no threshold to override", t, id, id))
			case len(o.Params) > 0:
				errs = append(errs, fmt.Errorf("overrides.%s.%s: rule %q is not scheduled and has no params", t, id, id))
			}
		}
	}
	return errors.Join(errs...)
}
