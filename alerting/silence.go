package alerting

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Silence mutes the alerts its matchers match between Start and End: a
// planned change, or an actor an analyst vouched for. Silences are stored,
// with who made them and why.
type Silence struct {
	ID       string
	Matchers Matchers
	Start    time.Time
	End      time.Time
	Author   string
	Comment  string
	Created  time.Time
	// Version orders a silence's states (expiring one is a new version).
	Version uint64
}

// Active reports whether the silence mutes alerts at t.
func (s *Silence) Active(t time.Time) bool { return !t.Before(s.Start) && t.Before(s.End) }

// NewSilence validates and returns a silence with a new id.
func NewSilence(m Matchers, start, end time.Time, author, comment string, now time.Time) (Silence, error) {
	var errs []error
	if len(m) == 0 {
		errs = append(errs, errors.New("at least one matcher (rule, tenant, actor, target, severity) is required"))
	}
	errs = append(errs, m.validate("matchers")...)
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
		Created: now, Version: uint64(now.UnixNano())}, nil
}

// silencedBy returns the first active silence that matches a, or nil.
func silencedBy(silences []Silence, a *Alert, now time.Time) *Silence {
	for i := range silences {
		if s := &silences[i]; s.Active(now) && s.Matchers.Matches(a) {
			return s
		}
	}
	return nil
}

// inhibitedBy returns an open alert that inhibits a under rules, or nil.
func inhibitedBy(rules []InhibitRule, open map[string]*Alert, a *Alert) *Alert {
	for _, r := range rules {
		if !r.Target.Matches(a) {
			continue
		}
		for _, src := range open {
			if src == a || !src.Open() || src.Resolved || !r.Source.Matches(src) {
				continue
			}
			equal := true
			for _, l := range r.Equal {
				equal = equal && src.Label(l) == a.Label(l)
			}
			if equal {
				return src
			}
		}
	}
	return nil
}
