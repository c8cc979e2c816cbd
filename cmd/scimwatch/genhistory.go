package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimwatch/scimwatch/demo"
	"github.com/scimwatch/scimwatch/demo/synth"
)

// generateHistoryCmd writes a deployment's simulated audit history, one
// file per tenant and source, to import.
func generateHistoryCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "generate history",
		about: `Writes weeks of simulated audit history for four tenants in four time zones
(acme: Okta, America/New_York; globex: Okta, Europe/Berlin; initech: Entra ID,
Asia/Tokyo; umbrella: Google Workspace, Europe/London) to DIR, one file per
tenant and source, as exports are: Okta System Log events, Entra ID Graph
directoryAudit and signIn objects, Google Workspace Reports API activities, the SCIM
request logs of each tenant's provisioning clients. Users sign in on working
days in their time zone, admins manage users, groups and roles in office hours,
people join and leave, SCIM clients sync day and night from their networks.
--plant adds one anomaly for each history-aware built-in rule and prints them.
It prints the import commands.`,
		example: `scimwatch generate history --out history --days 45 --plant
scimwatch import --config detect.yaml --tenant acme history/acme.okta.ndjson history/acme.scim.ndjson`})
	out := fs.String("out", "", "`DIR` to write the files to (required)")
	days := fs.Int("days", 45, "days of history")
	users := fs.Int("users", 300, "users per tenant")
	admins := fs.Int("admins", 5, "admins per tenant (of the users)")
	end := fs.String("end", "", "`TIME` the history ends at (RFC 3339; default: now)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same history")
	plant := fs.Bool("plant", false, "plant one anomaly for each history-aware built-in rule")
	only := fs.String("tenants", "", "comma-separated `TENANTS` to write, of acme, globex, initech and umbrella (default: all four)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	endT := time.Now().UTC().Truncate(time.Hour)
	if *end != "" {
		t, err := time.Parse(time.RFC3339, *end)
		if err != nil {
			return fs.fail("--end: %q is not an RFC 3339 time", *end)
		}
		endT = t
	}
	switch {
	case *out == "":
		return fs.fail("--out is required")
	case *days < 1 || *days > 400:
		return fs.fail("--days: from 1 to 400")
	case *admins < 2 || *users <= *admins:
		return fs.fail("--admins: at least 2, and fewer than --users")
	case fs.NArg() > 0:
		return fs.fail("takes no arguments")
	}
	cfg := synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(*users, *admins), End: endT, Days: *days, Seed: *seed, Plant: *plant}
	var picked map[string]bool // nil: all
	if *only != "" {
		// The others are generated and dropped: a tenant's history is the
		// same alone as with the others.
		picked = map[string]bool{}
		for _, name := range strings.Split(*only, ",") {
			name = strings.TrimSpace(name)
			if !slices.ContainsFunc(cfg.Tenants, func(t synth.HistoryTenant) bool { return t.Name == name }) {
				return fs.fail("--tenants: %q is not acme, globex, initech or umbrella", name)
			}
			picked[name] = true
		}
	}
	if err := demo.WriteHistory(ctx, cfg, *out, picked, stdout); err != nil {
		fmt.Fprintln(stderr, "scimwatch generate history:", err)
		return 1
	}
	return 0
}
