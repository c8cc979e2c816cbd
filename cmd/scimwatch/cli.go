package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one scimwatch command: its name ("rules lint"), the line the
// command list shows, and how it runs.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cmdIO, args []string) int
}

// cmdIO is what a command reads and writes.
type cmdIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

var commands = []command{
	{"normalize", "turn raw audit records (Okta, Entra ID, SCIM) into canonical events", normalizeCmd},
	{"simulate", "simulate tenants' audit traffic, back-filled history and injected attacks, to Kafka or files", simulateCmd},
	{"generate history", "write weeks of simulated audit history, one file per tenant and source", generateHistoryCmd},
	{"generate", "write simulated raw Okta and Entra ID records", generateCmd},
	{"demo", "the whole job on this machine: history, live simulated traffic with attacks, alerts, in one minute", demoCmd},
	{"run", "the whole job as one service: ingest, streaming detection, history rules, alerting", runCmd},
	{"ingest", "stream audit records from Kafka into ClickHouse", ingestCmd},
	{"collect", "fetch identity logs from Okta, Microsoft Graph and Google Workspace into Kafka", collectCmd},
	{"scim-gateway", "a reverse proxy in front of an app's SCIM API that records every request to Kafka and refuses by rules", scimGatewayCmd},
	{"import", "load exported audit records (history) into ClickHouse", importCmd},
	{"migrate", "apply the ClickHouse schema migrations", migrateCmd},
	{"bench ingest", "measure the ingest path against a real Kafka broker and ClickHouse", benchCmd},
	{"rules lint", "load and check rules files, reporting every error at once", rulesLintCmd},
	{"rules test", "run the rules' inline tests", rulesTestCmd},
	{"rules backtest", "run rules over the history in ClickHouse, as if live, and count their alerts", rulesBacktestCmd},
	{"replay", "evaluate rules on files of events, offline, in event-time order", replayCmd},
	{"detect", "evaluate rules on a live stream of records from stdin", detectCmd},
	{"report", "deprovisioning per tenant and app: latency, failures, and who still has access that should be gone", reportCmd},
	{"silence add", "silence alerts by rule, tenant, actor or target, for a time", silenceAddCmd},
	{"silence list", "list the silences", silenceListCmd},
	{"silence expire", "end silences now", silenceExpireCmd},
	{"bench alerting", "measure the latency from event to Slack call", benchAlertingCmd},
	{"bench run", "measure scimwatch run end to end: record written to Kafka to Slack call", benchRunCmd},
	{"bench dashboards", "measure the dashboards' ClickHouse queries on millions of events", benchDashboardsCmd},
	{"bench history", "measure import, warming learned rules and scheduled queries on ClickHouse", benchHistoryCmd},
	{"version", "print scimwatch's version", versionCmd},
}

func topUsage(w io.Writer) {
	fmt.Fprint(w, `scimwatch monitors identity-provisioning audit logs (Okta, Microsoft Entra ID, SCIM
servers): it normalizes them, stores them in ClickHouse and detects risky changes.

Usage:
  scimwatch COMMAND [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'scimwatch COMMAND --help' for a command's flags and an example.
`)
}

// find returns the command args start with and the arguments after its
// name.
func find(args []string) (*command, []string) {
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):]
		}
	}
	return nil, nil
}

// help is the text of a command's --help.
type help struct {
	name    string // "rules lint"
	args    string // what follows the flags in the usage line: "DIR|FILE..."
	about   string // what it does, in a few lines
	example string // one or more command lines
}

// flags returns the flag set of a command, whose --help prints h.
func (c *cmdIO) flags(h help) *flagSet {
	fs := flag.NewFlagSet(h.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are printed by parse, help by usage
	return &flagSet{FlagSet: fs, help: h, io: c}
}

type flagSet struct {
	*flag.FlagSet
	help help
	io   *cmdIO
}

// parse parses args. When it returns false the command returns code: 0
// after --help (printed to stdout), 2 after a mistake (said on stderr).
func (f *flagSet) parse(args []string) (code int, ok bool) {
	err := f.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.usage(f.io.stdout)
		return 0, false
	case err != nil:
		return f.fail("%v", err), false
	}
	return 0, true
}

// fail reports a usage mistake and returns the exit status of one, 2.
func (f *flagSet) fail(format string, args ...any) int {
	fmt.Fprintf(f.io.stderr, "scimwatch %s: %s\nRun 'scimwatch %s --help' for usage.\n", f.help.name, fmt.Sprintf(format, args...), f.help.name)
	return 2
}

func (f *flagSet) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage:\n  scimwatch %s", f.help.name)
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, " [flags]")
	}
	if f.help.args != "" {
		fmt.Fprint(w, " "+f.help.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", strings.TrimSpace(f.help.about))
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		f.VisitAll(func(fl *flag.Flag) {
			typ, text := flag.UnquoteUsage(fl)
			head := "  --" + fl.Name
			if typ != "" {
				head += " " + typ
			}
			if def := fl.DefValue; def != "" && def != "0" && def != "false" && def != "0s" && def != "[]" {
				text += " (default " + def + ")"
			}
			if len(head) > 24 {
				fmt.Fprintf(w, "%s\n  %-24s%s\n", head, "", text)
			} else {
				fmt.Fprintf(w, "%-26s%s\n", head, text)
			}
		})
	}
	fmt.Fprintf(w, "\nExample:\n")
	for _, l := range strings.Split(strings.TrimSpace(f.help.example), "\n") {
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(l))
	}
}

func versionCmd(_ context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "version", about: "Prints scimwatch's version.", example: "scimwatch version"})
	if code, ok := fs.parse(args); !ok {
		return code
	}
	fmt.Fprintln(c.stdout, "scimwatch", version)
	return 0
}
