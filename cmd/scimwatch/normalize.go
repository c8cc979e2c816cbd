package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/scimwatch/scimwatch/ingest/source"
)

func normalizeCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "normalize", args: "[FILE|-]...",
		about: `Reads raw audit records (JSON objects, JSON arrays, NDJSON, Okta Event Hook
and Event Hubs wrappers) from the files (stdin when none, or -) and writes
canonical events as NDJSON to stdout, in input order. A record that cannot be
read is reported on stderr as FILE:LINE: reason and the others still come out;
the exit status is then 1.`,
		example: `scimwatch normalize ingest/source/okta/testdata/event-hook.json
scimwatch generate --count 1000 | scimwatch normalize --tenant acme > events.ndjson`})
	src := fs.String("source", source.SourceAuto, "`SOURCE` of the records: auto, okta, entra, scim, gworkspace, or canonical (scimwatch events)")
	tenant := fs.String("tenant", "", "`TENANT` for records that name none")
	perFile := fileTenants{}
	perFile.register(fs.FlagSet)
	maxRecord := fs.Int("max-record", source.DefaultMaxRecord, "largest record accepted, in `BYTES`")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdin, stdout, stderr := c.stdin, c.stdout, c.stderr
	n, err := source.ForSource(*src)
	if err != nil {
		return fs.fail("--source: %v", err)
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	if u := perFile.unused(files); len(u) > 0 {
		return fs.fail("--file-tenant names %s, which is not among the files", strings.Join(u, ", "))
	}
	out := bufio.NewWriterSize(stdout, 256<<10)
	errw := bufio.NewWriter(stderr)
	defer errw.Flush()

	var total source.Stats
	failed := false
	for _, name := range files {
		st, err := normalizeFile(ctx, name, stdin, out, errw, n, perFile.of(name, *tenant), *maxRecord)
		total.Add(st)
		if err != nil {
			fmt.Fprintf(errw, "%s: %v\n", name, err)
			failed = true
			if ctx.Err() != nil {
				break
			}
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(errw, "scimwatch normalize: writing output:", err)
		return 1
	}
	if failed || total.Rejected > 0 || total.NotJSON > 0 {
		var parts []string
		if total.Rejected > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d records rejected", total.Rejected, total.Records))
		}
		if total.NotJSON > 0 {
			runs := "runs"
			if total.NotJSON == 1 {
				runs = "run"
			}
			parts = append(parts, fmt.Sprintf("%d %s of lines that are not JSON skipped", total.NotJSON, runs))
		}
		if len(parts) > 0 {
			fmt.Fprintf(errw, "scimwatch normalize: %s\n", strings.Join(parts, "; "))
		}
		return 1
	}
	return 0
}

func normalizeFile(ctx context.Context, name string, stdin io.Reader, out, errw *bufio.Writer, n source.Normalizer, tenant string, maxRecord int) (source.Stats, error) {
	var r io.Reader = stdin
	label := "-"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return source.Stats{}, err
		}
		defer f.Close()
		r, label = f, name
	}
	return source.NormalizeStream(ctx, r, out, n, tenant, maxRecord, func(line int, err error) {
		source.ReportReject(errw, label, line, err)
	})
}
