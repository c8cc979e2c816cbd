package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/scimwatch/scimwatch/detect/eventstore"
)

// ReportOptions say what scimwatch report covers.
type ReportOptions struct {
	// Tenant narrows the report to one tenant.
	Tenant string
	// Since is how many days back deactivations are taken.
	Since int
	// SLA: a gap older than this is overdue.
	SLA time.Duration
	// JSON writes one object per tenant and app, then per open gap.
	JSON bool
}

// Report writes the deprovisioning report to w: per tenant and app, how
// deprovisioning went for the users deactivated in the span, then every
// open gap. overdue says whether a gap is older than the SLA.
func Report(ctx context.Context, cfg *Config, opts ReportOptions, w io.Writer) (overdue bool, err error) {
	store, err := openMigrated(ctx, cfg.ClickHouse, nil)
	if err != nil {
		return false, err
	}
	defer store.Close()
	now := time.Now().UTC()
	from := now.AddDate(0, 0, -opts.Since)
	ds, err := eventstore.New(store).Deprovisions(ctx, opts.Tenant, from, now)
	if err != nil {
		return false, err
	}
	apps, gaps := Summarize(ds, now, opts.SLA)
	if opts.JSON {
		enc := json.NewEncoder(w)
		for _, a := range apps {
			_ = enc.Encode(a)
		}
		for _, g := range gaps {
			_ = enc.Encode(g)
		}
	} else {
		printReport(w, apps, gaps, from, opts.SLA)
	}
	return slices.ContainsFunc(gaps, func(g Gap) bool { return g.Overdue }), nil
}

// AppDeprovisioning is one app's figures in one tenant.
type AppDeprovisioning struct {
	Tenant      string  `json:"tenant"`
	App         string  `json:"app"`
	Deactivated int     `json:"deactivated"`
	Removed     int     `json:"removed"`
	P50Minutes  float64 `json:"p50_minutes"`
	P95Minutes  float64 `json:"p95_minutes"`
	Failures    int     `json:"failures"`
	OpenGaps    int     `json:"open_gaps"`
}

// Gap is a user an app has not removed since the deactivation.
type Gap struct {
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

// Summarize turns the deprovisions (ordered by tenant and app) into each
// app's figures and the open gaps, the oldest first.
func Summarize(ds []eventstore.Deprovision, now time.Time, sla time.Duration) ([]AppDeprovisioning, []Gap) {
	var apps []AppDeprovisioning
	var gaps []Gap
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
			apps = append(apps, AppDeprovisioning{Tenant: d.Tenant, App: d.App})
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
		g := Gap{Tenant: d.Tenant, App: d.App, UserID: d.UserID, Email: d.Email, Account: d.Account, Deactivated: d.Deactivated,
			OpenMinutes: int(now.Sub(d.Deactivated) / time.Minute), Overdue: now.Sub(d.Deactivated) > sla}
		if failed {
			g.LastFailure, g.FailedAt = d.Failure, d.Failed
		}
		gaps = append(gaps, g)
	}
	flush()
	slices.SortStableFunc(gaps, func(a, b Gap) int { return a.Deactivated.Compare(b.Deactivated) })
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

func printReport(w io.Writer, apps []AppDeprovisioning, gaps []Gap, from time.Time, sla time.Duration) {
	fmt.Fprintf(w, "Deprovisioning of the users deactivated since %s (SLA %s)\n\n", from.Format("2006-01-02 15:04 UTC"), sla)
	if len(apps) == 0 {
		fmt.Fprintln(w, "No user provisioned to an app was deactivated in that time.")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tAPP\tDEACTIVATED\tREMOVED\tP50\tP95\tFAILURES\tOPEN GAPS")
	for _, a := range apps {
		p50, p95 := "-", "-"
		if a.Removed > 0 {
			p50, p95 = fmt.Sprintf("%.1fm", a.P50Minutes), fmt.Sprintf("%.1fm", a.P95Minutes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\t%d\n", a.Tenant, a.App, a.Deactivated, a.Removed, p50, p95, a.Failures, a.OpenGaps)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(gaps) == 0 {
		fmt.Fprintln(w, "No open gaps: every app removed every deactivated user.")
		return
	}
	fmt.Fprintln(w, "Open gaps: access that should be gone")
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
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
