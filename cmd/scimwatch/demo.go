package main

import (
	"context"
	"fmt"
	"time"

	"github.com/scimwatch/scimwatch/demo"
)

func demoCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "demo",
		about: `Shows the whole job working on this machine, with nothing configured: an
embedded Kafka broker, the ClickHouse on 127.0.0.1 (./.ci/clickhouse.sh start
starts one), --days of simulated history for four tenants back-filled into a
database of its own, then scimwatch run on live simulated traffic, with an attack
injected every --inject-every (one per built-in rule, in turn). The terminal
shows events/s, consumer lag, alerts by rule, and each alert as it fires. Alerts
go to Slack when SLACK_BOT_TOKEN and SCIMWATCH_DEMO_CHANNEL are set; otherwise
to a Slack stand-in whose messages --preview shows in Slack's look. Ctrl-C stops
everything; the database stays for querying.`,
		example: `./.ci/clickhouse.sh start && scimwatch demo --duration 2m`})
	chAddr := fs.String("clickhouse", envOr("SCIMWATCH_TEST_CLICKHOUSE", "127.0.0.1:19000"), "ClickHouse native `ADDRESS`")
	database := fs.String("database", "scimwatch_demo", "ClickHouse `DATABASE` the demo starts afresh")
	days := fs.Int("days", 21, "days of history")
	users := fs.Int("users", 200, "users per tenant")
	rate := fs.Int("rate", 10, "live records per second per tenant")
	every := fs.Duration("inject-every", 8*time.Second, "an attack every `D`")
	duration := fs.Duration("duration", 0, "stop after `D` (0: at Ctrl-C)")
	listen := fs.String("http", "127.0.0.1:9464", "`ADDRESS` of /metrics, /healthz and /readyz")
	preview := fs.String("preview", "127.0.0.1:9470", "`ADDRESS` of the Slack-style alert preview")
	seed := fs.Uint64("seed", 1, "random seed")
	collectors := fs.Bool("collectors", false, "put the identity providers' live records into fake Okta, Graph and Workspace servers and collect them from there, as from the real vendors")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *days < 7 || *users < 20 || *rate < 1 || *every <= 0 {
		return fs.fail("--days at least 7 (the learned rules need a week), --users at least 20, --rate and --inject-every positive")
	}
	if err := demo.Run(ctx, c.stdout, c.stderr, *chAddr, *database, *days, *users, *rate, *every, *duration, *listen, *preview, *seed, *collectors); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch demo:", err)
		return 1
	}
	return 0
}
