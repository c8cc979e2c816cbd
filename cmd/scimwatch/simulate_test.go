package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/rules"
)

// TestSimulatedScenarios: every attack simulate injects raises its rule's
// alert, for its tenant and key, and the ordinary traffic around it raises
// none from the built-in rules that watch the stream.
func TestSimulatedScenarios(t *testing.T) {
	cal := rules.DefaultCalendar()
	cal.Tenants = map[string]rules.Hours{"acme": {Timezone: "America/New_York"}, "globex": {Timezone: "Europe/Berlin"}, "initech": {Timezone: "Asia/Tokyo"}, "umbrella": {Timezone: "Europe/London"}}
	set, err := rules.Load(rules.Options{Calendar: &cal}, "../../rules/builtin")
	if err != nil {
		t.Fatal(err)
	}
	var streaming []*rules.Rule
	for _, r := range set.Rules {
		if r.Learns() == nil && r.Scheduled == nil {
			streaming = append(streaming, r)
		}
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var alerts []detect.Alert
	cfg := detect.DefaultConfig()
	cfg.MaxFutureSkew = 0
	cfg.Now = func() time.Time { return start.Add(3 * time.Hour) }
	eng, err := detect.New(cfg, set.Subset(streaming...), detect.SinkFunc(func(a detect.Alert) error {
		if a.Status == detect.StatusFiring {
			alerts = append(alerts, a)
		}
		return nil
	}), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	hcfg := synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(60, 4), End: start, Days: 3, Seed: 7}
	sim, _, err := synth.Simulate(hcfg, func(string, string, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	emit := func(tenant, _ string, rec []byte) error {
		var err error
		evs, err = source.Auto{}.Normalize(evs[:0], rec, tenant)
		if err != nil {
			return fmt.Errorf("%v: %s", err, rec)
		}
		for i := range evs {
			if err := eng.Process(&evs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	// An hour of ordinary traffic, one tick a minute.
	for i := 0; i < 60; i++ {
		if err := sim.Tick(start.Add(time.Duration(i)*time.Minute), 20, emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := eng.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		t.Errorf("ordinary traffic raised %s: %s", a.Rule, a.Title)
	}
	alerts = nil
	// Each attack, a quarter of an hour apart, in each tenant in turn.
	var plants []synth.Plant
	for i, sc := range synth.Scenarios {
		at := start.Add(time.Hour + time.Duration(i)*15*time.Minute)
		tenant := hcfg.Tenants[i%len(hcfg.Tenants)].Name
		if err := sim.Tick(at.Add(-time.Minute), 20, emit); err != nil {
			t.Fatal(err)
		}
		p, err := sim.Inject(sc, tenant, at, emit)
		if err != nil {
			t.Fatal(err)
		}
		plants = append(plants, p)
	}
	if err := eng.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, p := range plants {
		if !slices.ContainsFunc(streaming, func(r *rules.Rule) bool { return r.ID == p.Rule }) {
			continue // a rule that learns: the history test finds it
		}
		found := false
		for _, a := range alerts {
			found = found || a.Rule == p.Rule && a.Tenant == p.Tenant &&
				(strings.Contains(a.Key+" "+strings.Join(a.Targets, " ")+" "+a.Actor, p.Key) || p.Actor != "" && a.Actor == p.Actor)
		}
		if !found {
			t.Errorf("%s in %s (key %s) raised no alert of its rule", p.Rule, p.Tenant, p.Key)
		}
	}
	if t.Failed() {
		for _, a := range alerts {
			t.Logf("alert %s %s key %s actor %s", a.Rule, a.Tenant, a.Key, a.Actor)
		}
	}
}
