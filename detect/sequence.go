package detect

import (
	"slices"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

// seqState is how far one key got in a sequence of n steps: partial[i] is
// the match of steps 0..i with the latest start. The latest start is the
// one that can still complete latest, so it is the only one worth keeping
// for each step: a create at 0 min, a create at 50 min and a grant at 70 min
// complete within 1 hour from the second create. State per key is bounded
// by the number of steps.
type seqState struct {
	partial []partial
	latest  time.Time // the latest start of any partial match
}

type partial struct {
	start time.Time
	ids   []string // nil: no match of these steps
}

func (e *Engine) sequence(rs *ruleState, ev *event.Event) error {
	r, sq := rs.rule, rs.rule.Sequence
	// Which steps does the event satisfy?
	var steps uint64
	for i, p := range sq.Steps {
		if g := sq.Guards[i]; g != nil && !g(ev) {
			continue
		} else if g != nil && sq.Exact[i] {
			steps |= 1 << i
			continue
		}
		hit, err := e.matcher.True(p, ev)
		if err != nil {
			return err
		}
		if hit {
			steps |= 1 << i
		}
	}
	if steps == 0 {
		return nil
	}
	if ex, err := e.matcher.Excepted(r, ev); ex || err != nil {
		return err
	}
	k, err := e.matcher.Eval(sq.By, ev)
	if err != nil {
		return err
	}
	key := groupKey(k)
	if key == "" || key == "<nil>" {
		return nil
	}
	st, ok := rs.seqs.get(key)
	if !ok {
		if steps&1 == 0 {
			return nil // only a first step can start a match
		}
		st = &seqState{partial: make([]partial, len(sq.Steps)-1)}
		if _, evicted := rs.seqs.put(key, st); evicted {
			e.metrics.evictions.WithLabelValues(r.ID, "sequence").Inc()
		}
	}
	// From the last step down, so that one event never completes two
	// consecutive steps of the same match.
	for i := len(sq.Steps) - 1; i >= 0; i-- {
		if steps&(1<<i) == 0 {
			continue
		}
		var next partial
		if i == 0 {
			next = partial{start: ev.Time, ids: []string{ev.ID}}
		} else {
			prev := st.partial[i-1]
			if prev.ids == nil || ev.Time.Sub(prev.start) > sq.Within || ev.Time.Before(prev.start) {
				continue
			}
			next = partial{start: prev.start, ids: prev.ids}
			if len(next.ids) < e.cfg.MaxEventIDs {
				next.ids = append(slices.Clip(next.ids), ev.ID)
			}
		}
		if i == len(sq.Steps)-1 {
			rs.seqs.remove(key)
			return e.fireKey(rs, ev, key, len(sq.Steps), next.start, next.ids, 0, nil)
		}
		if cur := st.partial[i]; cur.ids == nil || !next.start.Before(cur.start) {
			st.partial[i] = next
			if next.start.After(st.latest) {
				st.latest = next.start
			}
		}
	}
	return nil
}

// idle reports whether no partial match can still complete at event time
// now.
func (s *seqState) idle(now time.Time, within time.Duration) bool {
	return now.Sub(s.latest) > within
}
