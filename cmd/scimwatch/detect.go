package main

import (
	"context"
	"time"

	"github.com/scimwatch/scimwatch/service"
)

// detectCmd evaluates rules on a stream of records from stdin in real time,
// printing each alert as NDJSON when it opens (status firing) and, if it
// has a dedup period, again when it is resolved. Simple rules alert as soon
// as their event is read; windows and sequences wait for allowed_lateness,
// of event time or, on a quiet stream, of wall-clock time. SIGHUP, or a
// change of a rules file, reloads the rules; a bad rule set keeps the last
// good one.
func detectCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "detect",
		about: `Evaluates rules on records read from stdin as they arrive (raw of any source,
or canonical) and prints alerts as NDJSON: once when an alert fires, and once
more when an alert with a dedup period is resolved. With an alerting: section
in --config, alerts also go to Slack and Alertmanager. Simple rules alert as soon
as their event is read; windows and sequences wait for allowed_lateness of
event time or, on a quiet stream, of wall-clock time. SIGHUP or a changed rules
file reloads the rules; a rule set that does not load keeps the last good one.`,
		example: `tail -F /var/log/scim/requests.ndjson | scimwatch detect --rules rules/builtin --config detect.yaml`})
	var df detectionFlags
	df.register(fs.FlagSet, recordsTenant)
	level := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	poll := fs.Duration("watch", 2*time.Second, "how often to look for changed rules files")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if len(df.dirs) == 0 {
		return fs.fail("--rules is required")
	}
	if fs.NArg() > 0 {
		return fs.fail("reads stdin and takes no arguments")
	}
	logger, err := newLogger(c.stderr, *level)
	if err != nil {
		return fs.fail("%v", err)
	}
	cfg, ok := loadConfig(c, "detect", *df.config, service.UsesDetection|service.UsesAlerting)
	if !ok {
		return 1
	}
	err = service.Detect(ctx, &cfg, df.dirs, *poll, service.Input{Stdin: c.stdin, Tenant: *df.tenant, Stdout: c.stdout, Stderr: c.stderr, Logger: logger})
	return exitCode(c, "detect", err)
}
