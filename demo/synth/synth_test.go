package synth

import (
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
)

// TestRecordsNormalize: every generated record is valid JSON of its source,
// normalizes to a mapped action most of the time, and is sized like the
// samples.
func TestRecordsNormalize(t *testing.T) {
	g := New(1, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Second, 100)
	bytesBySource := map[string]int{}
	countBySource := map[string]int{}
	actions := map[string]int{}
	var buf []byte
	for i := 0; i < 2000; i++ {
		var src string
		buf, src = g.Next(buf[:0], 0.5)
		if !json.Valid(buf) {
			t.Fatalf("record %d is not JSON: %s", i, buf)
		}
		got, err := source.Detect(buf)
		if err != nil || got != src {
			t.Fatalf("record %d detected as %q (%v), generated as %q", i, got, err, src)
		}
		evs, err := source.Auto{}.Normalize(nil, buf, "t")
		if err != nil || len(evs) != 1 {
			t.Fatalf("record %d: %v", i, err)
		}
		actions[evs[0].Action]++
		bytesBySource[src] += len(buf)
		countBySource[src]++
	}
	for src, n := range countBySource {
		if avg := bytesBySource[src] / n; avg < 900 || avg > 2500 {
			t.Errorf("%s records average %d bytes, want sample-like 900-2500", src, avg)
		}
	}
	for _, a := range []string{event.ActionUserLogin, event.ActionGroupMemberAdd, event.ActionUserCreate, event.ActionRoleGrant} {
		if actions[a] == 0 {
			t.Errorf("no %s in 2000 records: %v", a, actions)
		}
	}
}

func TestDeterministic(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	a, b := New(7, start, time.Second, 10), New(7, start, time.Second, 10)
	for i := 0; i < 100; i++ {
		x, _ := a.Next(nil, 0.6)
		y, _ := b.Next(nil, 0.6)
		if string(x) != string(y) {
			t.Fatalf("record %d differs for the same seed", i)
		}
	}
}

// TestHistoryShapes: the history's records are in the shapes the vendors
// deliver (issue 19), and read whole: Okta's app events list the AppUser
// first, the Entra tenant's hires come from Workday inbound provisioning
// (Graph's shape and Azure Monitor's, steps as numbers), Workspace
// activities come split and listed, the SCIM logs name their app.
func TestHistoryShapes(t *testing.T) {
	var s struct{ appUserFirst, inbound, inboundNumbers, split, listed, scimApp, scim int }
	cfg := HistoryConfig{Tenants: DefaultHistoryTenants(40, 3), End: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Days: 10, Seed: 3, Plant: true}
	var evs []event.Event
	_, err := History(cfg, func(tenant, src string, rec []byte) error {
		var err error
		if evs, err = (source.Auto{}).Normalize(evs[:0], rec, tenant); err != nil {
			t.Fatalf("%s %s: %v: %s", tenant, src, err, rec)
		}
		for _, e := range evs {
			if e.Trimmed.Unread != 0 {
				t.Errorf("%s: %d fields unread: %s", e.RawType, e.Trimmed.Unread, rec)
			}
			switch {
			case e.Source == event.SourceOkta && len(e.Targets) == 3 && e.Targets[0].Type == event.TargetAppUser && e.Targets[2].Type == event.TargetUser:
				s.appUserFirst++
			case e.Source == event.SourceEntra && e.RawType == "provisioning.create" && e.TargetOfType(event.TargetApp) == nil:
				s.inbound++
				if json.Valid(rec) && containsAll(string(rec), `"provisioningStepType":0`, `"identityType":"Worker"`) {
					s.inboundNumbers++
				}
				if u := e.TargetOfType(event.TargetUser); u == nil || u.Email == "" || containsAll(u.ID, "WD") {
					t.Errorf("inbound hire keyed by %+v", u)
				}
			case e.Source == event.SourceGWorkspace && containsAll(string(rec), `"events":{`):
				s.split++
			case e.Source == event.SourceGWorkspace && containsAll(string(rec), `"events":[`):
				s.listed++
			case e.Source == event.SourceSCIM:
				s.scim++
				if e.TargetOfType(event.TargetApp) != nil {
					s.scimApp++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.appUserFirst < 20 || s.inbound < 3 || s.inboundNumbers == 0 || s.inboundNumbers == s.inbound || s.split < 100 || s.listed < 100 || s.scimApp != s.scim {
		t.Errorf("shapes seen: %+v", s)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
