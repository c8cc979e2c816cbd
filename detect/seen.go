package detect

import (
	"hash/maphash"
	"math"
	"slices"
	"time"
)

// seenMap remembers when things (hashes of a tenant, a key and a term) were
// first and last seen, in seconds. It is bounded: past max entries it drops
// about the tenth seen longest ago at once, so that a flood of new terms
// costs amortized O(1) per event and memory stays at max. An entry is 16
// bytes of map, about 24 with the map's overhead.
type seenMap struct {
	m   map[uint64]seen
	max int
}

type seen struct{ first, last uint32 }

func newSeenMap(max int) *seenMap { return &seenMap{m: map[uint64]seen{}, max: max} }

// secs is t in the uint32 seconds seenMap keeps (clamped to 1970..2106).
func secs(t time.Time) uint32 {
	u := t.Unix()
	switch {
	case u < 0:
		return 0
	case u > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(u)
}

func (s *seenMap) get(h uint64) (seen, bool) {
	v, ok := s.m[h]
	return v, ok
}

// see records h at t, and returns how many entries were evicted to make
// room.
func (s *seenMap) see(h uint64, t uint32) int {
	v, ok := s.m[h]
	switch {
	case !ok:
		v = seen{first: t, last: t}
	case t > v.last:
		v.last = t
	case t < v.first:
		v.first = t
	}
	s.m[h] = v
	if len(s.m) > s.max {
		return s.evict()
	}
	return 0
}

// expire drops the entries last seen before t.
func (s *seenMap) expire(t uint32) {
	for h, v := range s.m {
		if v.last < t {
			delete(s.m, h)
		}
	}
}

// evict drops about a tenth of the entries, those seen longest ago: the
// cut is the 10th percentile of last-seen times in a sample of the map
// (Go's map iteration starts at a random place).
func (s *seenMap) evict() int {
	sample := make([]uint32, 0, 1024)
	for _, v := range s.m {
		if sample = append(sample, v.last); len(sample) == cap(sample) {
			break
		}
	}
	slices.Sort(sample)
	cut := sample[len(sample)/10]
	before := len(s.m)
	for h, v := range s.m {
		if v.last <= cut {
			delete(s.m, h)
		}
	}
	if len(s.m) > s.max*95/100 {
		// Many entries at the cut itself (a flood within one second): drop
		// any, until a tenth is gone.
		for h := range s.m {
			delete(s.m, h)
			if len(s.m) <= s.max*9/10 {
				break
			}
		}
	}
	return before - len(s.m)
}

func (s *seenMap) len() int { return len(s.m) }

// hasher hashes keys with a seed chosen at random per process: an attacker
// who knows scimwatch's code cannot craft a term whose hash equals a known
// one, to pass for it.
type hasher struct{ seed maphash.Seed }

func newHasher() hasher { return hasher{seed: maphash.MakeSeed()} }

// sum hashes parts, separated so that ("ab", "c") and ("a", "bc") differ.
func (h hasher) sum(parts ...string) uint64 {
	var m maphash.Hash
	m.SetSeed(h.seed)
	for _, p := range parts {
		m.WriteString(p)
		m.WriteByte(0)
	}
	return m.Sum64()
}
