package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/scimwatch/scimwatch/ingest/synth"
)

// generateCmd writes realistic raw audit records, for trying scimwatch
// without an identity provider and for benchmarks.
func generateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("count", 1000, "number of records")
	share := fs.Float64("okta-share", 0.5, "share of Okta records (the rest are Entra ID), 0..1")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same records")
	users := fs.Int("users", 5000, "size of the simulated user population")
	start := fs.String("start", "2026-11-02T08:00:00Z", "time of the first record (RFC 3339)")
	step := fs.Duration("step", 50*time.Millisecond, "mean time between records")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: scimwatch generate [flags] > records.ndjson\n\nWrites simulated raw Okta System Log and Entra ID (Azure Monitor) records as NDJSON.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil || *count < 0 || *share < 0 || *share > 1 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "scimwatch generate: want --count >= 0, --okta-share in 0..1, an RFC 3339 --start and no arguments")
		return 2
	}
	g := synth.New(*seed, t0, *step, *users)
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
