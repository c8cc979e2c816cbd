package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/demo"
	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/service"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	now := t0.Add(5 * time.Hour)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	ds := []eventstore.Deprovision{
		{Tenant: "acme", App: "CRM", UserID: "u1", Deactivated: at(0), Removed: at(4)},
		{Tenant: "acme", App: "CRM", UserID: "u2", Deactivated: at(10), Removed: at(20)},
		{Tenant: "acme", App: "CRM", UserID: "u3", Deactivated: at(30), Removed: at(32), Failed: at(31), Failure: "timeout"}, // failed once, then removed
		{Tenant: "acme", App: "Wiki", UserID: "u1", Email: "u1@acme.com", Deactivated: at(0), Failed: at(5), Failure: "401"}, // open 5 h: overdue
		{Tenant: "acme", App: "Wiki", UserID: "u4", Deactivated: at(280), Removed: at(100), Failed: at(50)},                  // open 20 min; old failure
		{Tenant: "globex", App: "CRM", UserID: "g1", Deactivated: at(0), Removed: at(60)},
	}
	apps, gaps := service.Summarize(ds, now, time.Hour)
	want := []service.AppDeprovisioning{
		{Tenant: "acme", App: "CRM", Deactivated: 3, Removed: 3, P50Minutes: 4, P95Minutes: 10, Failures: 1},
		{Tenant: "acme", App: "Wiki", Deactivated: 2, Failures: 1, OpenGaps: 2},
		{Tenant: "globex", App: "CRM", Deactivated: 1, Removed: 1, P50Minutes: 60, P95Minutes: 60},
	}
	if fmt.Sprint(apps) != fmt.Sprint(want) {
		t.Errorf("apps:\n got %v\nwant %v", apps, want)
	}
	if len(gaps) != 2 || gaps[0].UserID != "u1" || !gaps[0].Overdue || gaps[0].LastFailure != "401" || gaps[0].OpenMinutes != 300 ||
		gaps[1].UserID != "u4" || gaps[1].Overdue || gaps[1].LastFailure != "" {
		t.Errorf("gaps: %+v", gaps)
	}
}

// TestReportCommand: on ten days of simulated history (leavers removed from
// the first app within minutes and from the second within the hour, and the
// planted leaver the second app never removes, in each tenant whose
// identity provider logs provisioning), report gives each app's figures and
// exactly the planted gaps, and exits 3 for them.
func TestReportCommand(t *testing.T) {
	addr := testenv.ClickHouse(t)
	db := "scimwatch_" + testenv.Name("report")
	ch := mustCH(addr, db)
	t.Cleanup(func() { clickhouse.DropDatabase(ch) })
	sim := &demo.Simulation{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	hcfg := synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(60, 4), End: time.Now().UTC(), Days: 10, Seed: 5, Plant: true}
	if err := sim.Backfill(context.Background(), hcfg, true, "", &ch); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "scimwatch.yaml", fmt.Sprintf("clickhouse: {addrs: [%s], database: %s}\n", addr, db))
	code, out, errs := runCLI(t, "", "report", "--config", cfg, "--since", "30d", "--json")
	if code != 3 {
		t.Fatalf("exit %d, want 3 (overdue gaps):\n%s\n%s", code, out, errs)
	}
	apps, gaps := readReport(t, out)
	// Three tenants log provisioning, each to two apps.
	if len(apps) != 6 {
		t.Errorf("%d apps, want 6: %+v", len(apps), apps)
	}
	for _, a := range apps {
		switch {
		case a.Deactivated < 2 || a.Failures != 0:
			t.Errorf("%+v: want at least the two planted leavers and no failure", a)
		case a.App == synth.AppName(0) && (a.OpenGaps != 0 || a.P95Minutes > 10):
			t.Errorf("%+v: the first app removes everyone within 10 minutes", a)
		case a.App == synth.AppName(1) && (a.OpenGaps != 1 || a.P50Minutes < 35 || a.P95Minutes >= 60):
			t.Errorf("%+v: the second app removes all but the planted leaver in 35 to 55 minutes", a)
		}
	}
	if len(gaps) != 3 {
		t.Errorf("%d gaps, want the 3 planted: %+v", len(gaps), gaps)
	}
	for _, g := range gaps {
		if g.App != synth.AppName(1) || !strings.HasPrefix(g.Email, "leaver.overdue") || !g.Overdue || g.OpenMinutes < 180 {
			t.Errorf("gap %+v is not a planted one", g)
		}
	}
	// The table form names the gap and the app.
	code, out, _ = runCLI(t, "", "report", "--config", cfg, "--tenant", "acme")
	if code != 3 || !strings.Contains(out, "Open gaps") || !strings.Contains(out, "leaver.overdue") || strings.Contains(out, "globex") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestScheduledScenarios: each attack simulate injects for a scheduled rule
// (a leaver an app never removes, a sign-in after deactivation, an old API
// token in use, a token used after its revocation), imported with the
// commands a user runs over ten days of clean history, is found by its rule
// at the rule's next run, and nothing else is.
func TestScheduledScenarios(t *testing.T) {
	addr := testenv.ClickHouse(t)
	db := "scimwatch_" + testenv.Name("sched")
	ch := mustCH(addr, db)
	t.Cleanup(func() { clickhouse.DropDatabase(ch) })
	now := time.Now().UTC()
	sim := &demo.Simulation{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	hcfg := synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(60, 4), End: now.Add(-time.Hour), Days: 10, Seed: 9}
	if err := sim.Backfill(context.Background(), hcfg, true, "", &ch); err != nil {
		t.Fatal(err)
	}
	// The attacks, written to files per tenant and source, then imported.
	dir := t.TempDir()
	files := map[string]*bytes.Buffer{}
	var plants []synth.Plant
	for _, sc := range synth.ScheduledScenarios {
		p, err := sim.Sim().Inject(sc, "", now, func(tenant, source string, rec []byte) error {
			k := tenant + "." + source
			if files[k] == nil {
				files[k] = &bytes.Buffer{}
			}
			files[k].Write(rec)
			files[k].WriteByte('\n')
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		plants = append(plants, p)
	}
	cfg := writeHistoryConfig(t, addr, db, "")
	for k, b := range files {
		f := filepath.Join(dir, k+".ndjson")
		if err := os.WriteFile(f, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		tenant, _, _ := strings.Cut(k, ".")
		if code, _, errs := runCLI(t, "", "import", "--config", cfg, "--tenant", tenant, f); code != 0 {
			t.Fatalf("import %s: %d %s", k, code, errs)
		}
	}
	from := now.Add(time.Minute)
	args := append([]string{"rules", "backtest", "--config", cfg, "--rules", "../../rules/builtin", "--from", from.Format(time.RFC3339),
		"--to", from.Add(time.Minute).Format(time.RFC3339)}, ruleFlags(synth.ScheduledScenarios)...)
	code, out, errs := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	alerts := readAlerts(t, out)
	for _, p := range plants {
		if !slices.ContainsFunc(alerts, func(a detect.Alert) bool {
			return a.Rule == p.Rule && a.Tenant == p.Tenant && strings.Contains(a.Key, p.Key)
		}) {
			t.Errorf("%s in %s (key %s) not found", p.Rule, p.Tenant, p.Key)
		}
	}
	if len(alerts) != len(plants) {
		for _, a := range alerts {
			t.Logf("%s %s %s: %s", a.Rule, a.Tenant, a.Key, a.Title)
		}
		t.Errorf("%d alerts for %d attacks", len(alerts), len(plants))
	}
}

// readReport reads report --json: one object per tenant and app, then one
// per open gap.
func readReport(t *testing.T, out string) (apps []service.AppDeprovisioning, gaps []service.Gap) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, `"open_minutes"`) {
			var g service.Gap
			if err := json.Unmarshal([]byte(line), &g); err != nil {
				t.Fatal(err)
			}
			gaps = append(gaps, g)
			continue
		}
		var a service.AppDeprovisioning
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		apps = append(apps, a)
	}
	return apps, gaps
}
