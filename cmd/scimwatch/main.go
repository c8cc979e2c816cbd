// Command scimwatch monitors identity-provisioning audit logs: it
// normalizes Okta, Entra ID and SCIM records into canonical events, and
// (as the pipeline grows) ingests them from Kafka into ClickHouse, detects
// anomalies and alerts.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `scimwatch monitors identity-provisioning audit logs.

Usage:
  scimwatch normalize [--source auto|okta|entra|scim|canonical] [--tenant T] [FILE|-]...
  scimwatch ingest --config FILE [--generate N]
  scimwatch migrate --config FILE
  scimwatch bench ingest [flags]
  scimwatch rules lint DIR|FILE...
  scimwatch rules test [--junit FILE] DIR|FILE...
  scimwatch replay --rules DIR [--config FILE] FILE|-...
  scimwatch detect --rules DIR [--config FILE] < records.ndjson
  scimwatch generate [--count N] [--okta-share F] [--seed S]
  scimwatch version

Run 'scimwatch COMMAND -h' for a command's flags.
`

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line and returns the exit status: 0 success, 1
// failure (including rejected records), 2 usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "normalize":
		return normalizeCmd(ctx, args[1:], stdin, stdout, stderr)
	case "ingest":
		return ingestCmd(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], stdout, stderr)
	case "detect":
		return detectCmd(ctx, args[1:], stdin, stdout, stderr)
	case "replay":
		return replayCmd(ctx, args[1:], stdin, stdout, stderr)
	case "rules":
		return rulesCmd(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "generate":
		return generateCmd(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "scimwatch", version)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "scimwatch: unknown command %q\n\n%s", args[0], usage)
	return 2
}
