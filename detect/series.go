package detect

import (
	"slices"
	"sort"
)

// series is one key's learned activity: events per hour, by wall hour (the
// hour in the tenant's time zone counted from the epoch, so that one hour
// of the week is always 168 apart), over the rule's history. Only hours
// with events are kept: 8 bytes each.
type series struct {
	first uint32 // wall hour of the first event learned
	hours []hourCount
	total int // events in hours

	// A rate's limit for one hour, computed at its first event, and the
	// hour it last fired in.
	limHour   uint32
	lim       rateLimit
	firedHour uint32
}

type hourCount struct{ hour, n uint32 }

// add counts one event in hour h, and drops the hours before from. It
// returns the change in the number of hours kept.
func (s *series) add(h, from uint32) int {
	before := len(s.hours)
	if len(s.hours) == 0 || h < s.first {
		s.first = h
	}
	switch n := len(s.hours); {
	case n > 0 && s.hours[n-1].hour == h:
		s.hours[n-1].n++
	case n == 0 || s.hours[n-1].hour < h:
		s.hours = append(s.hours, hourCount{hour: h, n: 1})
	default: // a late event
		i := sort.Search(n, func(i int) bool { return s.hours[i].hour >= h })
		if i < n && s.hours[i].hour == h {
			s.hours[i].n++
		} else {
			s.hours = slices.Insert(s.hours, i, hourCount{hour: h, n: 1})
		}
	}
	s.total++
	s.trim(from)
	return len(s.hours) - before
}

// trim drops the hours before from.
func (s *series) trim(from uint32) int {
	i := 0
	for i < len(s.hours) && s.hours[i].hour < from {
		s.total -= int(s.hours[i].n)
		i++
	}
	if i == 0 {
		return 0
	}
	s.hours = append(s.hours[:0], s.hours[i:]...)
	if cap(s.hours) > 64 && len(s.hours) < cap(s.hours)/4 {
		s.hours = slices.Clip(s.hours)
	}
	if s.first < from {
		s.first = from
	}
	return i
}

// count is the events in hour h.
func (s *series) count(h uint32) int {
	i := sort.Search(len(s.hours), func(i int) bool { return s.hours[i].hour >= h })
	if i < len(s.hours) && s.hours[i].hour == h {
		return int(s.hours[i].n)
	}
	return 0
}

// last is the newest hour with events.
func (s *series) last() uint32 {
	if len(s.hours) == 0 {
		return s.first
	}
	return s.hours[len(s.hours)-1].hour
}

// nearHour counts the past events at the hour of the day of h, ±1 hour,
// on days of the same kind as h's (workdays, or the days of weekend, a
// bitmask of weekdays with Sunday as bit 0), and the total of events
// before h-1 (hours from h-1 on are the current ones, not history). Days
// of one kind are pooled rather than each weekday kept apart: an actor
// who works a few hours a week leaves most hours of the week empty by
// chance, and "Wednesday 17:00 is off hours" is not what that means.
func (s *series) nearHour(h uint32, weekend uint8) (near, total int) {
	off := weekend&(1<<wallWeekday(h)) != 0
	for _, hc := range s.hours {
		if hc.hour+1 >= h {
			break
		}
		total += int(hc.n)
		if weekend&(1<<wallWeekday(hc.hour)) != 0 != off {
			continue
		}
		switch (h - hc.hour) % 24 {
		case 0, 1, 23:
			near += int(hc.n)
		}
	}
	return near, total
}

// wallWeekday is the day of the week of wall hour h (hours since the
// epoch on a local clock), Sunday being 0: 1 January 1970 was a Thursday.
func wallWeekday(h uint32) uint {
	return uint((h/24 + 4) % 7)
}
