package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimwatch/scimwatch/demo"
	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/service"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func simulateCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "simulate",
		about: `Simulates an identity-provisioning deployment: four tenants in four time zones
(acme: Okta, America/New_York; globex: Okta, Europe/Berlin; initech: Entra ID,
Asia/Tokyo; umbrella: Google Workspace, Europe/London), each with users, admins
and SCIM clients, in each source's raw format. --days back-fills that many days of history (working-hours rhythms,
joiners and leavers) into ClickHouse (--config's clickhouse: section), or into
--out. Then live traffic runs for --duration at --rate records/s per tenant,
to Kafka (one topic per tenant, --topic-prefix and the tenant, records keyed by
tenant) or to --out, with an attack injected every --inject-every (one per
built-in rule, in turn: --inject names them). Each injection is printed.
The same --seed gives the same people and history.`,
		example: `scimwatch simulate --config scimwatch.yaml --days 30 --brokers 127.0.0.1:19092 --duration 5m
scimwatch simulate --out /tmp/sim --days 7 --duration 30s --rate 5`})
	out := fs.String("out", "", "`DIR` to write history and live records to, one file per tenant (instead of ClickHouse and Kafka)")
	config := fs.String("config", "", "config `FILE` whose clickhouse: section the history is imported into")
	brokers := fs.String("brokers", "", "Kafka `BROKERS` (comma-separated) the live records go to")
	prefix := fs.String("topic-prefix", "idp-", "live topics are `PREFIX`<tenant>")
	days := fs.Int("days", 30, "days of history to back-fill (0: none)")
	fs.Func("history", "history to back-fill as a `SPAN` (30d, 720h): --days in other words", func(v string) error {
		d, err := parseDaySpan(v)
		if err != nil {
			return err
		}
		*days = d
		return nil
	})
	users := fs.Int("users", 300, "users per tenant")
	admins := fs.Int("admins", 5, "admins per tenant")
	seed := fs.Uint64("seed", 1, "random seed")
	rate := fs.Int("rate", 10, "live records per second per tenant")
	duration := fs.Duration("duration", time.Minute, "how long live traffic runs (0: until interrupted)")
	every := fs.Duration("inject-every", 10*time.Second, "an attack every `D` (0: none)")
	all := append(slices.Clone(synth.Scenarios), synth.ScheduledScenarios...)
	inject := fs.String("inject", strings.Join(all, ","), "the attacks injected, in turn (the scheduled rules' "+strings.Join(synth.ScheduledScenarios, ", ")+" alert at their next run)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	scenarios := strings.Split(*inject, ",")
	for _, s := range scenarios {
		if !slices.Contains(all, s) && *every > 0 {
			return fs.fail("--inject: %q is not one of %s", s, strings.Join(all, ", "))
		}
	}
	switch {
	case *out == "" && *brokers == "" && *config == "":
		return fs.fail("name where live records go: --brokers (or --config's kafka: section) or --out")
	case *days > 0 && *out == "" && *config == "":
		return fs.fail("--days needs --config (import into ClickHouse) or --out")
	case *rate < 1 || *admins < 2 || *users <= *admins || *days < 0 || *days > 400:
		return fs.fail("--rate at least 1, --admins at least 2 and fewer than --users, --days from 0 to 400")
	}
	sim := &demo.Simulation{Stdout: c.stdout, Stderr: c.stderr}
	cfg := synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(*users, *admins), End: time.Now().UTC(), Days: max(*days, 1), Seed: *seed, Plant: *days > 0}
	var chCfg *clickhouse.Config
	client := kafka.Client{Brokers: strings.Split(*brokers, ",")}
	if *config != "" {
		file, ok := loadConfig(c, "simulate", *config, service.UsesClickHouse)
		if !ok {
			return 1
		}
		chCfg = &file.ClickHouse
		// The file's Kafka, with its security; --brokers names others.
		client = file.Kafka.Client
		if *brokers != "" {
			client.Brokers = strings.Split(*brokers, ",")
		}
		if err := client.Resolve(); err != nil {
			fmt.Fprintln(c.stderr, "scimwatch simulate: kafka:", err)
			return 1
		}
	}
	if *days == 0 || *out != "" {
		chCfg = nil
	}
	if *out == "" && (len(client.Brokers) == 0 || client.Brokers[0] == "") {
		return fs.fail("name where live records go: --brokers, --config's kafka.brokers or --out")
	}
	if err := sim.Backfill(ctx, cfg, *days > 0, *out, chCfg); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch simulate:", err)
		return 1
	}
	var sink demo.Sink
	if *out != "" {
		sink = demo.NewFileSink(*out)
	} else {
		sink = demo.NewKafkaSink(client, *prefix)
	}
	defer sink.Close()
	if err := sim.Live(ctx, sink, *rate, *duration, *every, scenarios); err != nil && ctx.Err() == nil {
		fmt.Fprintln(c.stderr, "scimwatch simulate:", err)
		return 1
	}
	return 0
}

// parseDaySpan reads "30d" or a Go duration ("720h") as whole days.
func parseDaySpan(v string) (int, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return d, nil
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur < 0 {
		return 0, fmt.Errorf("%q is not a span such as 30d or 720h", v)
	}
	return int(dur.Hours() / 24), nil
}
