package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/service"
)

func rulesBacktestCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "rules backtest",
		about: `Runs rules of every kind over the history in ClickHouse as if live, to see a
rule's noise before it goes live: the rules that learn (new_term, baseline)
learn from the history before --from and then only from what precedes each
moment; scheduled rules run at their interval with the account state as of
that day. Alerts go to stdout as NDJSON (the fields of replay's), and a summary
per rule and per day, with examples, to stderr. A rule's max_alerts_per_day is
its budget: days over it are counted, and the exit status is 3 if any is.`,
		example: `scimwatch rules backtest --config detect.yaml --rules rules/builtin --rule new-provisioning-source \
    --from 2026-10-01 --to 2026-11-01 > alerts.ndjson`})
	var df detectionFlags
	df.register(fs.FlagSet, "backtest only the events and accounts of `TENANT`")
	var only []string
	fs.Func("rule", "backtest only the rule `ID` (repeatable; default: every rule)", func(s string) error { only = append(only, s); return nil })
	fromS := fs.String("from", "", "first `TIME` evaluated: RFC 3339 or a date, 2026-10-01 (required)")
	toS := fs.String("to", "", "`TIME` evaluation stops at, excluded (required)")
	examples := fs.Int("examples", 3, "example alerts shown per rule")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	if len(df.dirs) == 0 {
		return fs.fail("--rules is required")
	}
	if *df.config == "" {
		return fs.fail("--config is required: its clickhouse: section says where the history is")
	}
	from, err1 := parseWhen(*fromS)
	to, err2 := parseWhen(*toS)
	switch {
	case err1 != nil:
		return fs.fail("--from: %v", err1)
	case err2 != nil:
		return fs.fail("--to: %v", err2)
	case !from.Before(to):
		return fs.fail("--from must be before --to")
	}
	cfg, ok := loadConfig(c, "rules backtest", *df.config, service.UsesDetection|service.UsesClickHouse)
	if !ok {
		return 1
	}
	set, err := service.LoadRules(rules.Options{Calendar: cfg.Calendar}, df.dirs)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch rules backtest:", err)
		return 1
	}
	if len(only) > 0 {
		var picked []*rules.Rule
		for _, id := range only {
			i := slices.IndexFunc(set.Rules, func(r *rules.Rule) bool { return r.ID == id })
			if i < 0 {
				return fs.fail("--rule %s: no such rule in %s", id, strings.Join(df.dirs, " "))
			}
			picked = append(picked, set.Rules[i])
		}
		set = set.Subset(picked...)
	}
	over, err := service.Backtest(ctx, &cfg, set, service.BacktestOptions{From: from, To: to, Tenant: *df.tenant, Examples: *examples}, stdout, stderr)
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "scimwatch rules backtest:", err)
		return 1
	case over:
		return 3
	}
	return 0
}

// parseWhen reads RFC 3339 or a date (midnight UTC).
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("required")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor a date (2026-10-01)", s)
	}
	return t, nil
}
