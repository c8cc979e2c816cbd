package main

import (
	"context"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/scimwatch/scimwatch/ingest/importer"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/service"
)

// importCmd loads exported records into ClickHouse, through the
// normalizers ingest uses, into the same tables.
func importCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "import", args: "FILE|-...",
		about: `Loads exported audit records into ClickHouse, through the normalizers ingest
uses, into the same tables: Okta System Log exports, Entra ID audit, sign-in and
provisioning exports, SCIM request logs, canonical events, in any form normalize
reads. This is how a new installation back-fills the 90 days Okta keeps, so that
the rules that learn from history work on day one. Importing a file twice
changes no result: events are stored once by tenant and id. A record that
cannot be read is reported as FILE:LINE: reason, and the others are still
imported; the exit status is then 1. --config is scimwatch's config file (run's
will do): import uses its clickhouse: and limits: sections.`,
		example: `scimwatch import --config detect.yaml --tenant acme okta-export-*.json`})
	config := fs.String("config", "", "config `FILE` whose clickhouse: section says where to import (required)")
	src := fs.String("source", source.SourceAuto, "`SOURCE` of the records: auto, okta, entra, scim, gworkspace, or canonical (scimwatch events)")
	tenant := fs.String("tenant", "", "`TENANT` for records that name none")
	perFile := fileTenants{}
	perFile.register(fs.FlagSet)
	batch := fs.Int("batch", 20000, "events per insert")
	maxRecord := fs.Int("max-record", source.DefaultMaxRecord, "largest record accepted, in `BYTES`")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *config == "" {
		return fs.fail("--config is required")
	}
	if fs.NArg() == 0 {
		return fs.fail("name the files to import (- for stdin)")
	}
	if u := perFile.unused(fs.Args()); len(u) > 0 {
		return fs.fail("--file-tenant names %s, which is not among the files", strings.Join(u, ", "))
	}
	if *batch < 1 {
		return fs.fail("--batch must be positive")
	}
	n, err := source.ForSource(*src)
	if err != nil {
		return fs.fail("--source: %v", err)
	}
	cfg, ok := loadConfig(c, "import", *config, service.UsesClickHouse|service.UsesLimits)
	if !ok {
		return 1
	}
	if *progress != "auto" && *progress != "always" && *progress != "never" {
		return fs.fail("--progress: %q is not auto, always or never", *progress)
	}
	st, err := importer.Run(ctx, importer.Config{ClickHouse: cfg.ClickHouse, Limits: cfg.Limits, Normalizer: n, Tenant: *tenant, FileTenants: perFile,
		Batch: *batch, MaxRecord: *maxRecord, Summary: true, Progress: *progress == "always" || *progress == "auto" && isTerminal(c.stderr)},
		fs.Args(), c.stdin, c.stderr)
	if err != nil || st.Rejected > 0 || st.NotJSON > 0 {
		return 1
	}
	return 0
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
