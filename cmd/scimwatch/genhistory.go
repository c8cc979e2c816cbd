package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, "scimwatch generate history:", err)
		return 1
	}
	files := map[string]*bufio.Writer{}
	var closers []*os.File
	counts := map[string]int{}
	emit := func(tenant, source string, rec []byte) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := filepath.Join(*out, tenant+"."+source+".ndjson")
		w := files[name]
		if w == nil {
			f, err := os.Create(name)
			if err != nil {
				return err
			}
			closers = append(closers, f)
			w = bufio.NewWriterSize(f, 256<<10)
			files[name] = w
		}
		counts[name]++
		if _, err := w.Write(rec); err != nil {
			return err
		}
		return w.WriteByte('\n')
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
		all := emit
		emit = func(tenant, source string, rec []byte) error {
			if !picked[tenant] {
				return nil
			}
			return all(tenant, source, rec)
		}
	}
	plants, err := synth.History(cfg, emit)
	for _, w := range files {
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
	}
	for _, f := range closers {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch generate history:", err)
		return 1
	}
	total := 0
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range counts {
			if !yield(n) {
				return
			}
		}
	}) {
		fmt.Fprintf(stdout, "%-40s %9d records\n", name, counts[name])
		total += counts[name]
	}
	fmt.Fprintf(stdout, "%d records from %s to %s. Import them with:\n", total, endT.AddDate(0, 0, -*days).Format("2006-01-02"), endT.Format("2006-01-02"))
	for _, t := range cfg.Tenants {
		if picked != nil && !picked[t.Name] {
			continue
		}
		fmt.Fprintf(stdout, "  scimwatch import --config CONFIG --tenant %s %s %s\n", t.Name,
			filepath.Join(*out, t.Name+"."+t.Source+".ndjson"), filepath.Join(*out, t.Name+".scim.ndjson"))
	}
	if len(plants) > 0 {
		fmt.Fprintln(stdout, "Planted:")
		for _, p := range plants {
			if picked != nil && !picked[p.Tenant] {
				continue
			}
			fmt.Fprintf(stdout, "  %-26s tenant %-8s key %-40s %s\n", p.Rule, p.Tenant, p.Key, p.At.UTC().Format(time.RFC3339))
		}
	}
	return 0
}
