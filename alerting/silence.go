package alerting

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Silence mutes the alerts its matchers match between Start and End: a
// planned change, or an actor an analyst vouched for. Silences are stored,
// with who made them and why.
type Silence struct {
	ID       string
	Matchers Matchers
	// Broad is set on a silence that matches every alert of a tenant (or
	// of every tenant): it was asked for explicitly (silence add --broad)
	// by a person, with a comment. A broad silence without it is not
	// applied (one made by an older version from an alert whose actor was
	// named "*").
	Broad   bool
	Start   time.Time
	End     time.Time
	Author  string
	Comment string
	Created time.Time
	// Version orders a silence's states (expiring one is a new version).
	Version uint64
}

// Active reports whether the silence mutes alerts at t.
func (s *Silence) Active(t time.Time) bool { return !t.Before(s.Start) && t.Before(s.End) }

// NewSilence validates and returns a silence with a new id. A silence
// that would match every alert of a tenant (no rule, actor, key or target
// narrows it) is refused unless broad says a person means it.
func NewSilence(m Matchers, start, end time.Time, author, comment string, now time.Time, broad bool) (Silence, error) {
	var errs []error
	if len(m) == 0 {
		errs = append(errs, errors.New("at least one matcher (rule, tenant, actor, target, severity) is required"))
	}
	errs = append(errs, m.validate("matchers")...)
	if m.Broad() && !broad {
		errs = append(errs, fmt.Errorf("%s matches every alert%s: refused unless asked for as broad, with a comment saying why",
			matchersString(m), map[bool]string{true: " of its tenant", false: ""}[m["tenant"] != "" && !matchesAll(m["tenant"])]))
	}
	if !end.After(start) {
		errs = append(errs, fmt.Errorf("end %v is not after start %v", end.Format(time.RFC3339), start.Format(time.RFC3339)))
	}
	if author == "" {
		errs = append(errs, errors.New("author is required"))
	}
	if comment == "" {
		errs = append(errs, errors.New("comment is required: say why"))
	}
	if err := errors.Join(errs...); err != nil {
		return Silence{}, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return Silence{ID: hex.EncodeToString(id[:]), Matchers: m, Start: start, End: end, Author: author, Comment: comment,
		Created: now, Version: uint64(now.UnixNano()), Broad: m.Broad()}, nil
}

// Literal escapes the pattern characters of s (path.Match's * ? [ \), so
// that a matcher made from a value matches that value only: an actor named
// "*" silences the actor named "*", not every actor.
func Literal(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

// Broad reports whether m matches every alert of a tenant: none of rule,
// actor, key and target narrows it (absent, or a pattern that matches
// anything).
func (m Matchers) Broad() bool {
	for _, l := range []string{"rule", "actor", "key", "target"} {
		if p, ok := m[l]; ok && !matchesAll(p) {
			return false
		}
	}
	return true
}

// matchesAll reports whether a pattern matches any value: stars only.
func matchesAll(p string) bool { return strings.Trim(p, "*") == "" }

func matchersString(m Matchers) string {
	var parts []string
	for _, l := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%q", l, m[l]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// silencedBy returns the first active silence that matches a, or nil.
func silencedBy(silences []Silence, a *Alert, now time.Time) *Silence {
	for i := range silences {
		if s := &silences[i]; s.Active(now) && (s.Broad || !s.Matchers.Broad()) && s.Matchers.Matches(a) {
			return s
		}
	}
	return nil
}

// inhibitors indexes, for each inhibit rule, the open alerts its source
// matches by the values of its equal labels, so that checking a new alert
// costs the number of rules, not the number of open alerts (a flood of
// alerts must not make each one slower).
type inhibitors struct {
	rules []InhibitRule
	by    []map[string]map[string]*Alert // rule -> equal-label values -> alert id -> alert
}

func newInhibitors(rules []InhibitRule) *inhibitors {
	x := &inhibitors{rules: rules, by: make([]map[string]map[string]*Alert, len(rules))}
	for i := range rules {
		x.by[i] = map[string]map[string]*Alert{}
	}
	return x
}

func equalKey(labels []string, a *Alert) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = a.Label(l)
	}
	return strings.Join(parts, "\x00")
}

// update files a (as it is now) under the rules whose source it can be.
func (x *inhibitors) update(a *Alert) {
	for i, r := range x.rules {
		k := equalKey(r.Equal, a)
		if a.Open() && !a.Resolved && r.Source.Matches(a) {
			if x.by[i][k] == nil {
				x.by[i][k] = map[string]*Alert{}
			}
			x.by[i][k][a.Tenant+"\x00"+a.ID] = a
		} else if m := x.by[i][k]; m != nil {
			delete(m, a.Tenant+"\x00"+a.ID)
			if len(m) == 0 {
				delete(x.by[i], k)
			}
		}
	}
}

// remove forgets a.
func (x *inhibitors) remove(a *Alert) {
	for i, r := range x.rules {
		k := equalKey(r.Equal, a)
		if m := x.by[i][k]; m != nil {
			delete(m, a.Tenant+"\x00"+a.ID)
			if len(m) == 0 {
				delete(x.by[i], k)
			}
		}
	}
}

// inhibitedBy returns an open alert that inhibits a, or nil.
func (x *inhibitors) inhibitedBy(a *Alert) *Alert {
	for i, r := range x.rules {
		if !r.Target.Matches(a) {
			continue
		}
		for id, src := range x.by[i][equalKey(r.Equal, a)] {
			if id != a.Tenant+"\x00"+a.ID {
				return src
			}
		}
	}
	return nil
}
