package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/scimwatch/scimwatch/service"
)

// detectionFlags are the flags replay and detect share: the rules, the
// config and the default tenant.
type detectionFlags struct {
	dirs   []string
	config *string
	tenant *string
}

// register registers the flags; tenantHelp is what --tenant means to the
// command.
func (d *detectionFlags) register(fs *flag.FlagSet, tenantHelp string) {
	fs.Func("rules", "rules `DIR` or file (repeatable; required)", func(s string) error { d.dirs = append(d.dirs, s); return nil })
	d.config = fs.String("config", "", "config `FILE` (scimwatch run's will do): calendar:, detect: (thresholds per tenant, lateness), history:, alerting:")
	d.tenant = fs.String("tenant", "", tenantHelp)
}

const recordsTenant = "`TENANT` for records that name none"

func replayCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "replay", args: "FILE|-...",
		about: `Normalizes raw or canonical events from the files, evaluates the rules on
them offline in event-time order, and prints each alert as NDJSON when it is
final. The files are read as streams and merged by event time; each may be out
of order by up to detect.allowed_lateness (1m by default), and memory is
bounded by that window, not by the files. A summary goes to stderr; the exit
status is 1 if a record was rejected. With --notify, the alerts also go
through the config's alerting: integrations, as production would send them.`,
		example: `scimwatch generate --count 50000 --step 2s > day.ndjson
scimwatch replay --rules rules/builtin day.ndjson`})
	var df detectionFlags
	df.register(fs.FlagSet, recordsTenant)
	level := fs.String("log-level", "warn", "`LEVEL`: debug, info, warn or error")
	notify := fs.Bool("notify", false, "also deliver the alerts through the --config's alerting: integrations (Slack, Alertmanager), as production would")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if len(df.dirs) == 0 {
		return fs.fail("--rules is required")
	}
	if fs.NArg() == 0 {
		return fs.fail("name the files to replay (- for stdin)")
	}
	logger, err := newLogger(c.stderr, *level)
	if err != nil {
		return fs.fail("%v", err)
	}
	uses := service.UsesDetection
	if *notify {
		uses |= service.UsesAlerting
	}
	cfg, ok := loadConfig(c, "replay", *df.config, uses)
	if !ok {
		return 1
	}
	if *notify && !cfg.Alerting.Enabled() {
		return fs.fail("--notify needs --config with an alerting: section naming slack or alertmanager")
	}
	_, err = service.Replay(ctx, &cfg, df.dirs, *notify, service.Input{Files: fs.Args(), Stdin: c.stdin, Tenant: *df.tenant,
		Stdout: c.stdout, Stderr: c.stderr, Logger: logger})
	return exitCode(c, "replay", err)
}

// exitCode is a detecting command's exit status: 0, or 1 with the error
// printed (rejected records were printed as they came).
func exitCode(c *cmdIO, cmd string, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, service.ErrRejected), errors.Is(err, context.Canceled):
		return 1
	}
	fmt.Fprintf(c.stderr, "scimwatch %s: %v\n", cmd, err)
	return 1
}
