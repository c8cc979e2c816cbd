package detect

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the engine.
type Config struct {
	// AllowedLateness is how long the engine waits for late events before it
	// evaluates in event-time order: events are held until the newest event
	// seen is this much newer. An event later than that is evaluated at
	// once, out of order, and counted.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// MaxKeys bounds the window, sequence and dedup state of each rule;
	// past it the least recently updated keys are evicted and counted.
	MaxKeys int `yaml:"max_keys"`
	// MaxEventIDs bounds the event ids an alert carries.
	MaxEventIDs int `yaml:"max_event_ids"`
	// Overrides change a rule's threshold for one tenant:
	// tenant -> rule id -> override.
	Overrides map[string]map[string]Override `yaml:"overrides"`
}

// Override is a per-tenant threshold.
type Override struct {
	Count  int           `yaml:"count"`
	Window time.Duration `yaml:"window"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{AllowedLateness: time.Minute, MaxKeys: 100000, MaxEventIDs: 20}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var errs []error
	if c.AllowedLateness < 0 {
		errs = append(errs, errors.New("allowed_lateness: negative"))
	}
	if c.MaxKeys <= 0 {
		errs = append(errs, errors.New("max_keys: must be positive"))
	}
	if c.MaxEventIDs <= 0 {
		errs = append(errs, errors.New("max_event_ids: must be positive"))
	}
	for t, rs := range c.Overrides {
		for r, o := range rs {
			if o.Count < 0 || o.Window < 0 {
				errs = append(errs, fmt.Errorf("overrides.%s.%s: count and window must not be negative", t, r))
			}
		}
	}
	return errors.Join(errs...)
}
