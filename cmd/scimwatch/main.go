// Command scimwatch monitors identity-provisioning audit logs: it
// normalizes Okta, Entra ID and SCIM records into canonical events, ingests
// them from Kafka into ClickHouse, and detects risky changes with rules.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line and returns the exit status: 0 success
// (and help), 1 failure (including rejected records), 2 usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cmdIO{stdin: stdin, stdout: stdout, stderr: stderr}
	switch {
	case len(args) == 0:
		topUsage(stderr)
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1:
		topUsage(stdout)
		return 0
	case args[0] == "--version" || args[0] == "-version":
		fmt.Fprintln(stdout, "scimwatch", version)
		return 0
	case args[0] == "help":
		if cmd, _ := find(args[1:]); cmd != nil {
			return cmd.run(ctx, c, []string{"--help"})
		}
	}
	if cmd, rest := find(args); cmd != nil {
		return cmd.run(ctx, c, rest)
	}
	if args[0] == "rules" || args[0] == "bench" || args[0] == "silence" {
		fmt.Fprintf(stderr, "scimwatch %s: want a subcommand\n\n", args[0])
	} else {
		fmt.Fprintf(stderr, "scimwatch: unknown command %q\n\n", args[0])
	}
	topUsage(stderr)
	return 2
}
