package detect

// idSet is the event ids (hashes of tenant, source and id) the engine saw
// within RepeatHorizon, in the order they came, in a ring of at most max
// entries beside the map: expiring the oldest and evicting past the bound
// both take from the ring's front, O(1) per id, so a million ids cost no
// sweep of the map. Events come mostly in time order; one that comes late
// stays a little longer than the horizon.
type idSet struct {
	m       map[uint64]struct{}
	ring    []idEntry
	head, n int
	max     int
}

type idEntry struct {
	h uint64
	t uint32
}

func newIDSet(max int) *idSet { return &idSet{m: map[uint64]struct{}{}, max: max} }

func (s *idSet) len() int { return len(s.m) }

// add records h seen at t unless it is there: whether it was, and how many
// ids were evicted (the oldest) to keep to max.
func (s *idSet) add(h uint64, t uint32) (seen bool, evicted int) {
	if _, ok := s.m[h]; ok {
		return true, 0
	}
	if s.n == s.max {
		s.pop()
		evicted = 1
	}
	if s.n == len(s.ring) {
		s.grow()
	}
	s.ring[(s.head+s.n)%len(s.ring)] = idEntry{h, t}
	s.n++
	s.m[h] = struct{}{}
	return false, evicted
}

// grow doubles the ring, up to max, keeping its order.
func (s *idSet) grow() {
	size := min(max(2*len(s.ring), 1024), s.max)
	ring := make([]idEntry, size)
	for i := range s.n {
		ring[i] = s.ring[(s.head+i)%len(s.ring)]
	}
	s.ring, s.head = ring, 0
}

// expire forgets the ids that came, in order, before one seen at t or
// later.
func (s *idSet) expire(t uint32) {
	for s.n > 0 && s.ring[s.head].t < t {
		s.pop()
	}
}

func (s *idSet) pop() {
	delete(s.m, s.ring[s.head].h)
	s.head = (s.head + 1) % len(s.ring)
	s.n--
}
