package main

import (
	"context"
	"fmt"
	"time"

	"github.com/scimwatch/scimwatch/service"
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
	cfg, ok := loadConfig(c, "report", *config, service.UsesClickHouse)
	if !ok {
		return 1
	}
	overdue, err := service.Report(ctx, &cfg, service.ReportOptions{Tenant: *tenant, Since: since, SLA: *sla, JSON: *asJSON}, c.stdout)
	switch {
	case err != nil:
		fmt.Fprintln(c.stderr, "scimwatch report:", err)
		return 1
	case overdue:
		return 3
	}
	return 0
}
