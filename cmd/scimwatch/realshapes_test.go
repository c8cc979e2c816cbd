package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// rfc3339 finds the times of raw records: RFC 3339 with any fraction.
var rfc3339 = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)

// shiftedFile writes the records of a testdata file with every RFC 3339
// time moved by d (so that records written for a day in 2026 land where
// the commands' own clocks look), and returns its path.
func shiftedFile(t *testing.T, path string, d time.Duration, extra ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := rfc3339.ReplaceAllStringFunc(string(b)+strings.Join(extra, ""), func(m string) string {
		tm, err := time.Parse(time.RFC3339Nano, m)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		return tm.Add(d).UTC().Format("2006-01-02T15:04:05.000Z")
	})
	return writeFile(t, strings.ReplaceAll(strings.TrimPrefix(path, "../../"), "/", "_"), s)
}

// TestRealShapesDeprovisioning: the deprovisioning detections on records
// shaped as Okta and the apps' SCIM servers write them (Okta's app events
// name the person's account in the app, AppUser, before the person): an
// org whose person is deactivated, removed from Salesforce and Zoom, while
// Slack's deprovisioning fails; she then signs in to Slack, and Slack's
// connector pushes her a new title. Imported with scimwatch import and
// judged with scimwatch rules backtest and report, each gap is found once,
// on the person, and nothing else fires.
func TestRealShapesDeprovisioning(t *testing.T) {
	addr := testenv.ClickHouse(t)
	db := "scimwatch_" + testenv.Name("shapes")
	ch := mustCH(addr, db)
	t.Cleanup(func() { clickhouse.DropDatabase(ch) })
	// The deactivation (2026-11-20 17:00 in the files) lands yesterday.
	shift := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour).Sub(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	cfg := writeHistoryConfig(t, addr, db, "")
	for _, f := range []string{"../../ingest/source/okta/testdata/app-users.ndjson", "../../ingest/source/scim/testdata/app-writes.ndjson"} {
		if code, _, errs := runCLI(t, "", "import", "--config", cfg, "--tenant", "initech", shiftedFile(t, f, shift)); code != 0 {
			t.Fatalf("import %s: %d %s", f, code, errs)
		}
	}
	const dana = "00u1dana00000000A002"

	// The access map is keyed by the person; each app keeps the login the
	// app knows her by.
	access := chQuery(t, addr, db, `SELECT user_id, app, argMaxMerge(account), maxMerge(deprovisioned) > 0, maxMerge(failed) > 0
		FROM app_access WHERE tenant = 'initech' GROUP BY user_id, app ORDER BY app`)
	want := dana + "\t\t\t1\t0\t\n" +
		dana + "\tInitech Salesforce\tdana@initech.example\t1\t0\t\n" +
		dana + "\tInitech Slack\tdana\t0\t1\t\n" +
		dana + "\tInitech Zoom\tdana@initech.example\t1\t0\t\n"
	if access != want {
		t.Errorf("app_access:\n%s\nwant:\n%s", access, want)
	}

	at := time.Date(2026, 11, 20, 21, 0, 0, 0, time.UTC).Add(shift)
	args := append([]string{"rules", "backtest", "--config", cfg, "--from", at.Format(time.RFC3339), "--to", at.Add(time.Minute).Format(time.RFC3339)},
		ruleFlags([]string{"deprovision-overdue", "access-after-deprovision", "app-write-after-deprovision", "never-activated"})...)
	code, out, errs := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("backtest: exit %d: %s", code, errs)
	}
	alerts := readAlerts(t, out)
	wantAlerts := []struct{ rule, key, says string }{
		{"deprovision-overdue", dana + " in Initech Slack", "invalid_auth"},
		{"access-after-deprovision", dana + " in Initech Slack", "signed in to Initech Slack"},
		{"app-write-after-deprovision", "dana@initech.example in Initech Slack by okta-slack-scim", "title=Senior Analyst"},
	}
	for _, w := range wantAlerts {
		i := slices.IndexFunc(alerts, func(a detect.Alert) bool { return a.Rule == w.rule && a.Tenant == "initech" && a.Key == w.key })
		if i < 0 {
			t.Errorf("%s on %s: not raised", w.rule, w.key)
			continue
		}
		if a := alerts[i]; !strings.Contains(a.Title+" "+a.Summary, w.says) {
			t.Errorf("%s: %q / %q does not say %q", w.rule, a.Title, a.Summary, w.says)
		}
	}
	if len(alerts) != len(wantAlerts) {
		for _, a := range alerts {
			t.Logf("%s %s: %s", a.Rule, a.Key, a.Title)
		}
		t.Errorf("%d alerts, want %d", len(alerts), len(wantAlerts))
	}

	// report: the Slack gap is open, on the person, with the app's error;
	// Salesforce and Zoom removed her.
	code, out, errs = runCLI(t, "", "report", "--config", cfg, "--tenant", "initech", "--since", "30d", "--json")
	if code != 3 {
		t.Fatalf("report: exit %d, want 3: %s %s", code, out, errs)
	}
	apps, gaps := readReport(t, out)
	if len(gaps) != 1 || gaps[0].UserID != dana || gaps[0].App != "Initech Slack" || gaps[0].Email != "dana@initech.example" || gaps[0].Account != "dana" ||
		!gaps[0].Overdue || !strings.Contains(gaps[0].LastFailure, "invalid_auth") {
		t.Errorf("gaps: %+v", gaps)
	}
	// The table names her account in Slack, the login Slack's logs use.
	if code, out, _ := runCLI(t, "", "report", "--config", cfg, "--tenant", "initech", "--since", "30d"); code != 3 ||
		!regexp.MustCompile(`initech\s+Initech Slack\s+dana@initech.example\s+dana\s`).MatchString(out) {
		t.Errorf("report table: exit %d\n%s", code, out)
	}
	got := fmt.Sprint(apps)
	for _, app := range []string{"Initech Salesforce", "Initech Slack", "Initech Zoom"} {
		if !strings.Contains(got, app) {
			t.Errorf("report names no %s: %s", app, got)
		}
	}
}

// TestInboundHRProvisioning: a tenant fed by an HR system (Workday into
// Entra ID, SuccessFactors into Active Directory, in Graph's shape and
// Azure Monitor's numbers) whose hires sign in within days raises no
// never-activated finding: the accounts are the directory's users, not
// the workers. A hire who never signs in is found, by the directory's id.
func TestInboundHRProvisioning(t *testing.T) {
	addr := testenv.ClickHouse(t)
	db := "scimwatch_" + testenv.Name("hr")
	ch := mustCH(addr, db)
	t.Cleanup(func() { clickhouse.DropDatabase(ch) })
	shift := time.Now().UTC().Truncate(24 * time.Hour).Add(-30 * 24 * time.Hour).Sub(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	const tenant = "7a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
	signIn := func(id, upn, at string) string {
		return fmt.Sprintf(`{"id":"si-%s","createdDateTime":%q,"userDisplayName":"","userPrincipalName":%q,"userId":%q,"appId":"00000003-0000-0000-c000-000000000000","appDisplayName":"Microsoft Office","ipAddress":"198.51.100.20","clientAppUsed":"Browser","correlationId":"c-%s","status":{"errorCode":0},"tenantId":%q}`+"\n",
			id, at, upn, id, id, tenant)
	}
	// The hires sign in to Entra ID: Alex's cloud account (synchronized
	// from Active Directory) has an id of its own.
	extra := signIn("3f0b7c1e-2a4d-4b6e-8f90-a1b2c3d4e5f6", "jordan.reyes@fabrikam.example", "2026-11-03T08:01:00.0000000Z") +
		signIn("5c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5", "priya.shah@fabrikam.example", "2026-11-04T08:30:00.0000000Z") +
		signIn("a1b2c3d4-0000-4000-8000-00000000a1e7", "alex.kim@fabrikam.example", "2026-11-07T09:00:00.0000000Z") +
		// A hire who never starts.
		`{"id":"hr-0099","activityDateTime":"2026-11-02T06:10:00.0000000Z","tenantId":"` + tenant + `","jobId":"Workday2AAD.0f1e2d3c4b5a4978.aab3c2d1e0f94a87","provisioningAction":"create","provisioningStatusInfo":{"status":"success"},"initiatedBy":{"id":"","displayName":"Microsoft Entra Provisioning Service","initiatorType":"system"},"servicePrincipal":{"id":"8e2f0c1a-5b6d-4e7f-9a0b-1c2d3e4f5a6b","displayName":"Workday to Microsoft Entra user provisioning"},"sourceSystem":{"id":"wd-sys","displayName":"Workday"},"targetSystem":{"id":"aad-sys","displayName":"Microsoft Entra ID"},"sourceIdentity":{"id":"WD12399","displayName":"Sam Ortiz","identityType":"Worker"},"targetIdentity":{"id":"77aa88bb-0000-4000-8000-0000000000ff","displayName":"Sam Ortiz","identityType":"User","details":{"userPrincipalName":"sam.ortiz@fabrikam.example"}}}` + "\n"
	cfg := writeHistoryConfig(t, addr, db, "")
	f := shiftedFile(t, "../../ingest/source/entra/testdata/hr-inbound.ndjson", shift, extra)
	if code, _, errs := runCLI(t, "", "import", "--config", cfg, f); code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	if ws := chQuery(t, addr, db, `SELECT count() FROM account_days WHERE user_id LIKE 'WD%' OR user_id LIKE 'SF-%'`); ws != "0\t\n" {
		t.Errorf("accounts keyed by HR workers: %s", ws)
	}
	at := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).Add(shift)
	args := append([]string{"rules", "backtest", "--config", cfg, "--from", at.Format(time.RFC3339), "--to", at.Add(6 * time.Hour).Format(time.RFC3339)},
		ruleFlags([]string{"never-activated"})...)
	code, out, errs := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("backtest: exit %d: %s", code, errs)
	}
	alerts := readAlerts(t, out)
	if len(alerts) != 1 || alerts[0].Key != "77aa88bb-0000-4000-8000-0000000000ff" || !strings.Contains(alerts[0].Title, "sam.ortiz@fabrikam.example") {
		for _, a := range alerts {
			t.Logf("%s %s: %s", a.Rule, a.Key, a.Title)
		}
		t.Errorf("%d never-activated alerts, want the one hire who never started", len(alerts))
	}
}
