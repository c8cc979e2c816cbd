package main

import (
	"context"
	"fmt"
	"time"

	"github.com/scimwatch/scimwatch/service"
)

func runCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "run",
		about: `Runs the whole job as one service until SIGINT or SIGTERM: ingest (Kafka to
ClickHouse), streaming detection on the same topics under a consumer group of
its own (alerts never wait for ClickHouse), the rules that learn from history
and the scheduled ones, alerting to Slack and Alertmanager, and /metrics,
/healthz and /readyz (ready when every enabled component is). SIGHUP or a
changed rules file reloads the rules. Shutdown lands the batch in flight and
the notifications due within shutdown_timeout. The config file is described in
README.md, "scimwatch run".`,
		example: `scimwatch run --config scimwatch.yaml`})
	config := fs.String("config", "", "YAML config `FILE` (required)")
	level := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	poll := fs.Duration("watch", 2*time.Second, "how often to look for changed rules files")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stderr := c.stderr
	if *config == "" {
		return fs.fail("--config is required")
	}
	if fs.NArg() > 0 {
		return fs.fail("takes no arguments")
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return fs.fail("%v", err)
	}
	cfg, ok := loadConfig(c, "run", *config, service.UsesService)
	if !ok {
		return 1
	}
	if err := service.Run(ctx, *config, cfg, service.RunOptions{Logger: logger, Watch: *poll}); err != nil {
		fmt.Fprintln(stderr, "scimwatch run:", err)
		return 1
	}
	return 0
}
