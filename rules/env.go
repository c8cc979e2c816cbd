package rules

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

// Env is what a rule expression sees: the canonical event's fields by their
// JSON names (id, time, tenant, source, raw_type, action, outcome, reason,
// actor.{id,type,name,email,ip,user_agent}, targets[].{id,type,name,email},
// changes[].{field,old,new}, correlation_id), and the helper functions of
// helpers.go.
type Env struct {
	*event.Event
}

// Calendar says when each tenant works, for the time helpers.
type Calendar struct {
	Default Hours            `yaml:"default"`
	Tenants map[string]Hours `yaml:"tenants"`
}

// Hours is one tenant's working time.
type Hours struct {
	// Timezone is an IANA name; UTC when empty.
	Timezone string `yaml:"timezone"`
	// Start and End are "HH:MM", local; work is Start <= t < End. An End
	// before Start is a night shift that ends the next morning; End may be
	// "24:00".
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// Weekend lists days off by English name ("Saturday").
	Weekend []string `yaml:"weekend"`
	// Holidays are local dates, "2026-12-25".
	Holidays []string `yaml:"holidays"`

	loc        *time.Location
	start, end int // minutes of the day
	weekend    map[time.Weekday]bool
	holidays   map[string]bool
}

// DefaultCalendar is Monday to Friday, 08:00 to 19:00, UTC.
func DefaultCalendar() Calendar {
	return Calendar{Default: Hours{Start: "08:00", End: "19:00", Weekend: []string{"Saturday", "Sunday"}}}
}

// Check reports every problem of the calendar, as loading rules with it
// would.
func (c Calendar) Check() error {
	cp := c
	cp.Tenants = make(map[string]Hours, len(c.Tenants))
	for t, h := range c.Tenants {
		cp.Tenants[t] = h
	}
	return cp.compile()
}

// compile checks and prepares the calendar.
func (c *Calendar) compile() error {
	var errs []string
	if err := c.Default.compile(); err != nil {
		errs = append(errs, "default: "+err.Error())
	}
	for t, h := range c.Tenants {
		// What a tenant does not say is the default's: {timezone: Asia/Tokyo}
		// works the default hours there. An empty list (weekend: []) is said.
		if h.Start == "" {
			h.Start = c.Default.Start
		}
		if h.End == "" {
			h.End = c.Default.End
		}
		if h.Weekend == nil {
			h.Weekend = c.Default.Weekend
		}
		if h.Holidays == nil {
			h.Holidays = c.Default.Holidays
		}
		if err := h.compile(); err != nil {
			errs = append(errs, fmt.Sprintf("tenants.%s: %v", t, err))
		}
		c.Tenants[t] = h
	}
	if len(errs) > 0 {
		return fmt.Errorf("calendar: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (h *Hours) compile() error {
	var err error
	if h.loc, err = time.LoadLocation(h.Timezone); err != nil {
		return fmt.Errorf("timezone %q: %w", h.Timezone, err)
	}
	clock := func(s string) (int, error) {
		if s == "24:00" {
			return 24 * 60, nil
		}
		t, err := time.Parse("15:04", s)
		if err != nil {
			return 0, fmt.Errorf("%q is not HH:MM", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if h.start, err = clock(h.Start); err != nil {
		return err
	}
	if h.end, err = clock(h.End); err != nil {
		return err
	}
	if h.start == h.end {
		return fmt.Errorf("start and end are both %s: for round-the-clock work write 00:00 to 24:00", h.Start)
	}
	h.weekend = map[time.Weekday]bool{}
	for _, d := range h.Weekend {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			return fmt.Errorf("weekend day %q is not a day name", d)
		}
		h.weekend[wd] = true
	}
	h.holidays = map[string]bool{}
	for _, d := range h.Holidays {
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return fmt.Errorf("holiday %q is not YYYY-MM-DD", d)
		}
		h.holidays[d] = true
	}
	return nil
}

var weekdays = func() map[string]time.Weekday {
	m := map[string]time.Weekday{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		m[strings.ToLower(d.String())] = d
	}
	return m
}()

// Offset is the tenant's UTC offset at t, in seconds.
func (s *Set) Offset(t time.Time, tenant string) int {
	loc := s.calendar.Default.loc
	if h, ok := s.calendar.Tenants[tenant]; ok {
		loc = h.loc
	}
	if loc == nil || loc == time.UTC {
		return 0
	}
	_, off := t.In(loc).Zone()
	return off
}

// Weekend is the tenant's weekend days as a bitmask, Sunday being bit 0.
func (s *Set) Weekend(tenant string) uint8 {
	var m uint8
	for d := range s.calendar.hours(tenant).weekend {
		m |= 1 << uint(d)
	}
	return m
}

// Subset is a set of some of s's rules, with s's calendar and lists.
func (s *Set) Subset(rules ...*Rule) *Set {
	sub := *s
	sub.Rules = rules
	return &sub
}

func (c *Calendar) hours(tenant string) *Hours {
	if h, ok := c.Tenants[tenant]; ok {
		return &h
	}
	return &c.Default
}

// working reports whether t is within the tenant's working hours, read
// on the local wall clock of its timezone (so across a daylight-saving
// change, 09:00 stays 09:00). A shift that ends before it starts (22:00 to
// 06:00) runs overnight: its hours after midnight belong to the day it
// started, so the night from Friday to Saturday is worked and the night
// from Saturday to Sunday is not.
func (h *Hours) working(t time.Time) bool {
	l := t.In(h.loc)
	m := l.Hour()*60 + l.Minute()
	if h.start <= h.end {
		return m >= h.start && m < h.end && h.workday(l)
	}
	if m >= h.start {
		return h.workday(l)
	}
	if m < h.end {
		y, mo, d := l.Date()
		return h.workday(time.Date(y, mo, d-1, 12, 0, 0, 0, h.loc))
	}
	return false
}

// workday reports whether the local date of l is neither a weekend day nor
// a holiday.
func (h *Hours) workday(l time.Time) bool {
	return !h.weekend[l.Weekday()] && !h.holidays[l.Format("2006-01-02")]
}

// patterns holds the glob and regexp patterns of all expressions, compiled
// once at load.
type patterns struct {
	mu  sync.RWMutex
	res map[string]*regexp.Regexp
}

func (p *patterns) regexp(pattern string) (*regexp.Regexp, error) {
	p.mu.RLock()
	re, ok := p.res[pattern]
	p.mu.RUnlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.res[pattern] = re
	p.mu.Unlock()
	return re, nil
}

func globMatch(pattern, s string) (bool, error) { return path.Match(pattern, s) }
