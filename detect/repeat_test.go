package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/event"
)

// TestRepeatsCountOnce: events delivered again (a collector's page
// fetched again after a crash, an Event Hook delivered twice) count once
// in a threshold's window: two grants, each delivered three times, are
// not three grants.
func TestRepeatsCountOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		horizon time.Duration
		want    int
	}{{"remembered", time.Hour, 0}, {"off", 0, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.RepeatHorizon = tc.horizon
			e, rec, reg := newEngine(t, cfg)
			for range 3 {
				e.Process(ev("g0", 0, event.ActionRoleGrant, "admin"))
				e.Process(ev("g1", time.Minute, event.ActionRoleGrant, "admin"))
			}
			e.Flush()
			if n := len(rec.byRule("burst")); n != tc.want {
				t.Fatalf("burst (3 grants in 10 min): %d alerts, want %d", n, tc.want)
			}
			if tc.horizon > 0 {
				if got := testutil.ToFloat64(e.metrics.repeats); got != 4 {
					t.Errorf("repeated_events_total = %v, want 4", got)
				}
				if got := e.Stats().Events; got != 2 {
					t.Errorf("events evaluated %d, want 2", got)
				}
			}
			_ = reg
		})
	}
	// Repeats are dropped where the engine takes events, before any rule
	// (window, sequence, learned term or baseline) sees them; the same id
	// in another tenant is another event.
	e, _, _ := newEngine(t, DefaultConfig())
	e.Process(ev("c1", 0, event.ActionUserCreate, "admin", "u1"))
	other := ev("c1", time.Hour, event.ActionUserCreate, "admin", "u9")
	other.Tenant = "globex"
	before := e.Stats().Events
	e.Process(other)
	if e.Stats().Events != before+1 {
		t.Error("an event of another tenant with the same id was taken as a repeat")
	}
}

// TestRepeatIDsAreBounded: a flood of new ids keeps at most
// max_repeat_ids, evicting the oldest and counting them, and ids older
// than repeat_horizon are forgotten as event time moves on.
func TestRepeatIDsAreBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxRepeatIDs, cfg.RepeatHorizon = 1000, time.Hour
	e, _, _ := newEngine(t, cfg)
	for i := range 50000 {
		e.Process(ev(fmt.Sprint("flood-", i), time.Duration(i)*time.Millisecond, event.ActionUserUpdate, "bot"))
		if n := e.ids.len(); n > 1000 {
			t.Fatalf("%d ids remembered after %d events, bound 1000", n, i+1)
		}
	}
	if got := testutil.ToFloat64(e.metrics.evictions.WithLabelValues("", "event_id")); got < 49000 {
		t.Errorf("evictions counted %v, want the flood's", got)
	}
	// Two hours of event time later, what was remembered is forgotten.
	e.Process(ev("late-one", 3*time.Hour, event.ActionUserUpdate, "bot"))
	e.Process(ev("later", 3*time.Hour+2*time.Minute, event.ActionUserUpdate, "bot"))
	if n := e.ids.len(); n > 2 {
		t.Errorf("%d ids remembered past the horizon, want the last 2", n)
	}
}
