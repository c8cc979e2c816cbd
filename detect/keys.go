package detect

import (
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// keyed is one rule's state of one kind (windows, sequences or open
// alerts) by key, bounded to max keys in least-recently-used order: a new
// key past the bound evicts the least recently updated one in O(1), so a
// flood of new actors, IPs or targets costs the same per event as normal
// traffic, and memory stays flat. Idle keys are swept from the old end.
type keyed[V any] struct {
	lru *simplelru.LRU[string, V]
	max int
}

func newKeyed[V any](max int) *keyed[V] {
	// The LRU's own bound is never reached: put evicts first, so that the
	// caller sees (and counts, or closes) what goes.
	l, _ := simplelru.NewLRU[string, V](max+1, nil)
	return &keyed[V]{lru: l, max: max}
}

// get returns the value of key and marks it recently used.
func (k *keyed[V]) get(key string) (V, bool) { return k.lru.Get(key) }

// put sets key's value. When that adds a key past the bound, it evicts the
// least recently used one and returns it.
func (k *keyed[V]) put(key string, v V) (evicted V, ok bool) {
	if !k.lru.Contains(key) && k.lru.Len() >= k.max {
		_, evicted, ok = k.lru.RemoveOldest()
	}
	k.lru.Add(key, v)
	return evicted, ok
}

// peek returns the value of key without marking it used.
func (k *keyed[V]) peek(key string) (V, bool) { return k.lru.Peek(key) }

func (k *keyed[V]) remove(key string) { k.lru.Remove(key) }

func (k *keyed[V]) len() int { return k.lru.Len() }

// sweep removes keys from the least recently used end while idle says
// they can go, and stops at the first that cannot: it costs what it
// removes, not what the state holds.
func (k *keyed[V]) sweep(idle func(V) bool) {
	for {
		_, v, ok := k.lru.GetOldest()
		if !ok || !idle(v) {
			return
		}
		k.lru.RemoveOldest()
	}
}
