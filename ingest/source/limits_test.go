package source

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

func TestLimits(t *testing.T) {
	received := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	l := Limits{MaxTargets: 4, MaxChanges: 2, MaxName: 64, MaxText: 100}
	users := func(n int) []event.Target {
		var ts []event.Target
		for i := range n {
			ts = append(ts, event.Target{ID: fmt.Sprint("u", i), Type: "user"})
		}
		return ts
	}
	long := strings.Repeat("é", 100) // 200 bytes
	for _, tc := range []struct {
		name  string
		ev    event.Event
		check func(t *testing.T, e event.Event, tr Trims)
	}{
		{"within bounds: untouched", event.Event{Time: received, Targets: users(4), Changes: make([]event.Change, 2)},
			func(t *testing.T, e event.Event, tr Trims) {
				if e.Trimmed.Any() || tr != (Trims{}) || len(e.Targets) != 4 {
					t.Errorf("trimmed %+v %+v", e.Trimmed, tr)
				}
			}},
		{"200,000 targets: the first of each type kept, then in order", event.Event{Time: received,
			Targets: append(users(200000), event.Target{ID: "admin", Type: "role"}, event.Target{ID: "okta", Type: "app"})},
			func(t *testing.T, e event.Event, tr Trims) {
				got := []string{}
				for _, tg := range e.Targets {
					got = append(got, tg.Type+":"+tg.ID)
				}
				if want := "user:u0 user:u1 role:admin app:okta"; strings.Join(got, " ") != want {
					t.Errorf("kept %v, want %s", got, want)
				}
				if e.Trimmed.Targets != 199998 || tr.Targets != 199998 || tr.Events != 1 {
					t.Errorf("trimmed %+v, %+v", e.Trimmed, tr)
				}
			}},
		{"changes past the bound", event.Event{Time: received, Changes: make([]event.Change, 5)},
			func(t *testing.T, e event.Event, tr Trims) {
				if len(e.Changes) != 2 || e.Trimmed.Changes != 3 {
					t.Errorf("changes %d, trimmed %+v", len(e.Changes), e.Trimmed)
				}
			}},
		{"long strings cut at a character, with a hash of the whole", event.Event{Time: received,
			Actor: event.Actor{Name: long}, Targets: []event.Target{{ID: long + "a"}, {ID: long + "b"}}, Reason: long},
			func(t *testing.T, e event.Event, tr Trims) {
				if len(e.Actor.Name) > 64 || !strings.Contains(e.Actor.Name, "…#") || !utf8Valid(e.Actor.Name) {
					t.Errorf("actor name %q", e.Actor.Name)
				}
				if e.Targets[0].ID == e.Targets[1].ID {
					t.Errorf("two ids cut to one: %q", e.Targets[0].ID)
				}
				if len(e.Reason) > 100 || e.Trimmed.Strings != 4 || tr.Strings != 4 {
					t.Errorf("reason %d bytes, trimmed %+v", len(e.Reason), e.Trimmed)
				}
			}},
		{"year 9999: placed at receipt, its own time kept", event.Event{Time: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
			func(t *testing.T, e event.Event, tr Trims) {
				if !e.Time.Equal(received) || e.Trimmed.Time != "9999-12-31T23:59:59Z" || tr.Times != 1 {
					t.Errorf("time %v, trimmed %+v, %+v", e.Time, e.Trimmed, tr)
				}
			}},
		{"year 0001", event.Event{Time: time.Time{}},
			func(t *testing.T, e event.Event, tr Trims) {
				if !e.Time.Equal(received) || e.Trimmed.Time != "0001-01-01T00:00:00Z" {
					t.Errorf("time %v, trimmed %+v", e.Time, e.Trimmed)
				}
			}},
		{"a day and a second ahead of receipt", event.Event{Time: received.Add(MaxAhead + time.Second)},
			func(t *testing.T, e event.Event, tr Trims) {
				if !e.Time.Equal(received) || e.Trimmed.Time == "" {
					t.Errorf("time %v, trimmed %+v", e.Time, e.Trimmed)
				}
			}},
		{"an hour ahead of receipt: a clock a little off, kept", event.Event{Time: received.Add(time.Hour)},
			func(t *testing.T, e event.Event, tr Trims) {
				if !e.Time.Equal(received.Add(time.Hour)) || e.Trimmed.Any() {
					t.Errorf("time %v, trimmed %+v", e.Time, e.Trimmed)
				}
			}},
		{"1999: before any identity provider's log", event.Event{Time: time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)},
			func(t *testing.T, e event.Event, tr Trims) {
				if !e.Time.Equal(received) {
					t.Errorf("time %v", e.Time)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := []event.Event{tc.ev}
			tr := l.Apply(evs, received)
			tc.check(t, evs[0], tr)
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	err := Limits{MaxTargets: 0, MaxChanges: -1, MaxName: 10, MaxText: 100}.Validate()
	for _, want := range []string{"max_targets: must be positive", "max_changes: must be positive", "at least 64"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

// BenchmarkLimitsApply is the cost of the check on an ordinary event: it
// runs on every event ingest, detection and import read.
func BenchmarkLimitsApply(b *testing.B) {
	l := DefaultLimits()
	received := time.Now()
	evs := []event.Event{{Time: received, ID: "00u1", Actor: event.Actor{ID: "00u2", Name: "Alice"},
		Targets: []event.Target{{ID: "00u3", Type: "user"}, {ID: "0oa1", Type: "app"}}, Changes: make([]event.Change, 3)}}
	b.ReportAllocs()
	for b.Loop() {
		l.Apply(evs, received)
	}
}
