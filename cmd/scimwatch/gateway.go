package main

import (
	"context"
	"fmt"

	"github.com/scimwatch/scimwatch/service"
)

func scimGatewayCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "scim-gateway",
		about: `Runs a reverse proxy in front of an app's own SCIM API until SIGINT or SIGTERM:
every request and response is recorded to Kafka (scim_gateway.topic) in the
SCIM request-log form ingest reads, the client named by a fingerprint of its
credential, never the credential, bodies kept with secrets masked; requests a
rule of scim_gateway.rules denies are refused (403) and recorded. /metrics and
/readyz are on http.listen. The scim_gateway: section is described in
README.md, "SCIM gateway".`,
		example: `scimwatch scim-gateway --config gateway.yaml`})
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
		fmt.Fprintln(c.stderr, "scimwatch scim-gateway:", err)
		return 2
	}
	cfg, ok := loadConfig(c, "scim-gateway", *config, service.UsesGateway)
	if !ok {
		return 1
	}
	if err := service.RunGateway(ctx, cfg, logger); err != nil {
		logger.Error("scim-gateway", "err", err)
		return 1
	}
	return 0
}
