package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/scimwatch/scimwatch/demo/synth"
)

// generateCmd writes realistic raw audit records, for trying scimwatch
// without an identity provider and for benchmarks.
func generateCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "generate",
		about: `Writes simulated raw Okta and Entra ID (Azure Monitor) records as NDJSON to
stdout, shaped and sized like the vendors' own, spread over several tenants,
deterministic for a seed.`,
		example: `scimwatch generate --count 100000 --okta-share 0.7 > records.ndjson`})
	count := fs.Int("count", 1000, "number of records")
	share := fs.Float64("okta-share", 0.5, "share of Okta records (the rest are Entra ID), 0..1")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same records")
	users := fs.Int("users", 5000, "size of the simulated user population")
	start := fs.String("start", "2026-11-02T08:00:00Z", "`TIME` of the first record (RFC 3339)")
	step := fs.Duration("step", 50*time.Millisecond, "mean time between records")
	tenants := fs.String("tenants", "acme,globex,initech", "`TENANTS`, comma-separated, the records are spread over (Okta Event Hook deliveries from TENANT.okta.com, Entra ID records with the tenant's id); empty: bare Okta System Log events that name no tenant")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	t0, err := time.Parse(time.RFC3339, *start)
	switch {
	case err != nil:
		return fs.fail("--start: %q is not an RFC 3339 time", *start)
	case *count < 0:
		return fs.fail("--count: must not be negative")
	case *share < 0 || *share > 1:
		return fs.fail("--okta-share: must be from 0 to 1")
	case fs.NArg() > 0:
		return fs.fail("takes no arguments")
	}
	g := synth.New(*seed, t0, *step, *users)
	g.Tenants = splitList(*tenants)
	w := bufio.NewWriterSize(stdout, 256<<10)
	var buf []byte
	for i := 0; i < *count; i++ {
		if i&4095 == 0 && ctx.Err() != nil {
			break
		}
		buf, _ = g.Next(buf[:0], *share)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			fmt.Fprintln(stderr, "scimwatch generate:", err)
			return 1
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(stderr, "scimwatch generate:", err)
		return 1
	}
	return 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}
