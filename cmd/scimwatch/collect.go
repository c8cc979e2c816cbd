package main

import (
	"context"
	"fmt"

	"github.com/scimwatch/scimwatch/service"
)

func collectCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "collect",
		about: `Runs the collectors of the config file's collectors: section alone, until
SIGINT or SIGTERM: each polls its vendor's log API (Okta's System Log,
Microsoft Graph's audit logs, Google Workspace's Reports API), or receives
Okta's Event Hooks, and produces the records, unchanged, to its Kafka topic,
where ingest and detection (scimwatch run) take them. Cursors are kept in the
Kafka topic collectors.state_topic, moved once the records they cover are
acknowledged. /metrics and /readyz are on http.listen. scimwatch run starts
the same collectors with the other components. The collectors: section is
described in README.md, "Collectors".`,
		example: `scimwatch collect --config collect.yaml`})
	config := fs.String("config", "", "YAML config `FILE` (required)")
	level := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *config == "" {
		return fs.fail("--config is required")
	}
	if fs.NArg() > 0 {
		return fs.fail("takes no arguments")
	}
	logger, err := newLogger(c.stderr, *level)
	if err != nil {
		fmt.Fprintln(c.stderr, "scimwatch collect:", err)
		return 2
	}
	cfg, ok := loadConfig(c, "collect", *config, service.UsesCollectors)
	if !ok {
		return 1
	}
	if !cfg.Collectors.Any() {
		fmt.Fprintf(c.stderr, "scimwatch collect: %s: collectors: none configured\n", *config)
		return 1
	}
	if len(cfg.Kafka.Brokers) == 0 {
		fmt.Fprintf(c.stderr, "scimwatch collect: %s: kafka.brokers: required (an embedded broker would lose what is collected)\n", *config)
		return 1
	}
	if err := service.Run(ctx, *config, cfg, service.RunOptions{Logger: logger, CollectOnly: true}); err != nil {
		logger.Error("collect", "err", err)
		return 1
	}
	return 0
}
