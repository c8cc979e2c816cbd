package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func reportCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "report",
		about: `Prints, per tenant and app, how deprovisioning went for the users the
identity provider deactivated, suspended or deleted since --since: how many,
how many the app removed, the removal latency (p50, p95), the failed attempts,
and the open gaps, then every open gap: who still has access in an app that
should be gone, since when, and the app's last error. The access map comes
from the events in ClickHouse (Okta app assignments and provisioning, Entra app
role assignments and provisioning logs). Exit status 3 when a gap is older than
--sla, so a cron job or CI step can fail on it.`,
		example: `scimwatch report --config scimwatch.yaml --since 30d --tenant acme`})
	config := fs.String("config", "", "a config `FILE` with a clickhouse: section (scimwatch run's) (required)")
	tenant := fs.String("tenant", "", "only this `TENANT`")
	since := 30
	fs.Func("since", "deactivations of the last `SPAN` (30d)", func(v string) error {
		d, err := parseDaySpan(v)
		since = d
		return err
	})
	sla := fs.Duration("sla", time.Hour, "a gap older than this is overdue")
	asJSON := fs.Bool("json", false, "one JSON object per tenant and app, then one per open gap, instead of tables")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *config == "" {
		return fs.fail("--config is required")
	}
	chCfg, err := loadClickHouseSection(*config)
	if err != nil {
		fmt.Fprintln(c.stderr, "scimwatch report:", err)
		return 1
	}
	store, err := clickhouse.Open(chCfg, nil)
	if err != nil {
		fmt.Fprintln(c.stderr, "scimwatch report:", err)
		return 1
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch report: ClickHouse:", err)
		return 1
	}
	now := time.Now().UTC()
	from := now.AddDate(0, 0, -since)
	ds, err := eventstore.New(store).Deprovisions(ctx, *tenant, from, now)
	if err != nil {
		fmt.Fprintln(c.stderr, "scimwatch report:", err)
		return 1
	}
	apps, gaps := summarize(ds, now, *sla)
	overdue := slices.ContainsFunc(gaps, func(g gap) bool { return g.Overdue })
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		for _, a := range apps {
			_ = enc.Encode(a)
		}
		for _, g := range gaps {
			_ = enc.Encode(g)
		}
	} else {
		printReport(c, apps, gaps, from, *sla)
	}
	if overdue {
		return 3
	}
	return 0
}

// appDeprovisioning is one app's figures in one tenant.
type appDeprovisioning struct {
	Tenant      string  `json:"tenant"`
	App         string  `json:"app"`
	Deactivated int     `json:"deactivated"`
	Removed     int     `json:"removed"`
	P50Minutes  float64 `json:"p50_minutes"`
	P95Minutes  float64 `json:"p95_minutes"`
	Failures    int     `json:"failures"`
	OpenGaps    int     `json:"open_gaps"`
}

// gap is a user an app has not removed since the deactivation.
type gap struct {
	Tenant string `json:"tenant"`
	App    string `json:"app"`
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	// Account is the user's login in the app, when the identity provider
	// names it (an Okta app user).
	Account     string    `json:"account,omitempty"`
	Deactivated time.Time `json:"deactivated"`
	// Open is how long since the deactivation; Overdue that it is past
	// the SLA.
	OpenMinutes int       `json:"open_minutes"`
	Overdue     bool      `json:"overdue"`
	LastFailure string    `json:"last_failure,omitempty"`
	FailedAt    time.Time `json:"failed_at,omitzero"`
}

// summarize turns the deprovisions (ordered by tenant and app) into each
// app's figures and the open gaps, the oldest first.
func summarize(ds []eventstore.Deprovision, now time.Time, sla time.Duration) ([]appDeprovisioning, []gap) {
	var apps []appDeprovisioning
	var gaps []gap
	var lat []time.Duration
	flush := func() {
		if len(apps) == 0 {
			return
		}
		a := &apps[len(apps)-1]
		slices.Sort(lat)
		a.P50Minutes, a.P95Minutes = minutes(percentile(lat, 0.5)), minutes(percentile(lat, 0.95))
		lat = lat[:0]
	}
	for _, d := range ds {
		if len(apps) == 0 || apps[len(apps)-1].Tenant != d.Tenant || apps[len(apps)-1].App != d.App {
			flush()
			apps = append(apps, appDeprovisioning{Tenant: d.Tenant, App: d.App})
		}
		a := &apps[len(apps)-1]
		a.Deactivated++
		failed := !d.Failed.Before(d.Deactivated)
		if failed {
			a.Failures++
		}
		if !d.Open() {
			a.Removed++
			lat = append(lat, d.Latency())
			continue
		}
		a.OpenGaps++
		g := gap{Tenant: d.Tenant, App: d.App, UserID: d.UserID, Email: d.Email, Account: d.Account, Deactivated: d.Deactivated,
			OpenMinutes: int(now.Sub(d.Deactivated) / time.Minute), Overdue: now.Sub(d.Deactivated) > sla}
		if failed {
			g.LastFailure, g.FailedAt = d.Failure, d.Failed
		}
		gaps = append(gaps, g)
	}
	flush()
	slices.SortStableFunc(gaps, func(a, b gap) int { return a.Deactivated.Compare(b.Deactivated) })
	return apps, gaps
}

// percentile of sorted durations, nearest rank; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func minutes(d time.Duration) float64 { return float64(d.Round(6*time.Second)/(6*time.Second)) / 10 }

func printReport(c *cmdIO, apps []appDeprovisioning, gaps []gap, from time.Time, sla time.Duration) {
	fmt.Fprintf(c.stdout, "Deprovisioning of the users deactivated since %s (SLA %s)\n\n", from.Format("2006-01-02 15:04 UTC"), sla)
	if len(apps) == 0 {
		fmt.Fprintln(c.stdout, "No user provisioned to an app was deactivated in that time.")
		return
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tAPP\tDEACTIVATED\tREMOVED\tP50\tP95\tFAILURES\tOPEN GAPS")
	for _, a := range apps {
		p50, p95 := "-", "-"
		if a.Removed > 0 {
			p50, p95 = fmt.Sprintf("%.1fm", a.P50Minutes), fmt.Sprintf("%.1fm", a.P95Minutes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\t%d\n", a.Tenant, a.App, a.Deactivated, a.Removed, p50, p95, a.Failures, a.OpenGaps)
	}
	tw.Flush()
	fmt.Fprintln(c.stdout)
	if len(gaps) == 0 {
		fmt.Fprintln(c.stdout, "No open gaps: every app removed every deactivated user.")
		return
	}
	fmt.Fprintln(c.stdout, "Open gaps: access that should be gone")
	tw = tabwriter.NewWriter(c.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tAPP\tUSER\tACCOUNT IN APP\tDEACTIVATED\tOPEN FOR\tLAST ERROR")
	for _, g := range gaps {
		who := g.Email
		if who == "" {
			who = g.UserID
		}
		open := fmt.Sprintf("%dh%02dm", g.OpenMinutes/60, g.OpenMinutes%60)
		if g.Overdue {
			open += " OVERDUE"
		}
		fail := "-"
		if g.LastFailure != "" {
			fail = g.FailedAt.Format("2006-01-02 15:04") + " " + g.LastFailure
		}
		account := g.Account
		if account == "" {
			account = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Tenant, g.App, who, account, g.Deactivated.Format("2006-01-02 15:04 UTC"), open, fail)
	}
	tw.Flush()
}
