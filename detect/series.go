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

// nearHour counts the events of past weeks in the hour of the week of h,
// ±1 hour, before the current week's (hours from h-1 on are not counted),
// and the total of events before h-1.
func (s *series) nearHour(h uint32) (near, total int) {
	for _, hc := range s.hours {
		if hc.hour+1 >= h {
			break
		}
		total += int(hc.n)
		switch (h - hc.hour) % 168 {
		case 0, 1, 167:
			near += int(hc.n)
		}
	}
	return near, total
}
