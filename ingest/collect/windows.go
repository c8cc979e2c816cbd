package collect

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Windows is the window streams a collector polls (Graph's logs,
// Workspace's applications): their names, each one's overlap window
// (Lag overrides Default), and how to fetch one.
type Windows struct {
	Names   []string
	Lag     map[string]time.Duration
	Default map[string]time.Duration
	Start   time.Duration
	Fetch   func(name string) Fetch
}

// Validate reports names and lags that are not the vendor's; field is the
// config key of the names ("logs", "applications").
func (w Windows) Validate(p, field string) []error {
	known := slices.Sorted(maps.Keys(w.Default))
	var errs []error
	for _, n := range w.Names {
		if !slices.Contains(known, n) {
			errs = append(errs, fmt.Errorf("%s.%s: %q is not one of %s", p, field, n, strings.Join(known, ", ")))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(w.Lag)) {
		if !slices.Contains(known, n) || w.Lag[n] < 0 {
			errs = append(errs, fmt.Errorf("%s.lag.%s: one of %s, and a duration", p, n, strings.Join(known, ", ")))
		}
	}
	return errs
}

// Add adds the streams to c, and sets c.Lag to the longest overlap.
func (w Windows) Add(c *Collector) {
	for _, n := range w.Names {
		lag, ok := w.Lag[n]
		if !ok {
			lag = w.Default[n]
		}
		c.Lag = max(c.Lag, lag)
		c.Streams = append(c.Streams, Window(n, lag, w.Start, w.Fetch(n)))
	}
}
