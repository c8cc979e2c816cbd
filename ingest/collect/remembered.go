package collect

import (
	"container/heap"
	"time"
)

// remembered is the ids a stream produced lately, so that a poll over an
// overlap window does not produce them again. It is bounded: past max ids
// the oldest (by record time) are forgotten first; a forgotten id fetched
// again is produced again, which ingest and the detector take as a
// repeat.
type remembered struct {
	ids map[string]time.Time
	byT timeHeap
	max int
}

func newRemembered(max int) *remembered {
	return &remembered{ids: map[string]time.Time{}, max: max}
}

func (r *remembered) len() int { return len(r.ids) }

func (r *remembered) has(id string) bool { _, ok := r.ids[id]; return ok }

func (r *remembered) add(id string, t time.Time) {
	if _, ok := r.ids[id]; ok {
		return
	}
	for len(r.ids) >= r.max {
		r.pop()
	}
	r.ids[id] = t
	heap.Push(&r.byT, entry{id, t})
}

// forgetBefore forgets the ids of records older than t.
func (r *remembered) forgetBefore(t time.Time) {
	for len(r.byT) > 0 && r.byT[0].t.Before(t) {
		r.pop()
	}
}

func (r *remembered) pop() {
	e := heap.Pop(&r.byT).(entry)
	delete(r.ids, e.id)
}

type entry struct {
	id string
	t  time.Time
}

type timeHeap []entry

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i].t.Before(h[j].t) }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *timeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
