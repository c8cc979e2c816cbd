package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
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
	cfg, _, set, err := df.load()
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
	store, err := clickhouse.Open(cfg.ClickHouse, nil)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch rules backtest:", err)
		return 1
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		fmt.Fprintln(stderr, "scimwatch rules backtest: ClickHouse:", err)
		return 1
	}
	out := bufio.NewWriter(stdout)
	bt := &backtest{out: json.NewEncoder(out), byRule: map[string]*ruleTally{}, tenant: *df.tenant}
	dcfg := cfg.Detect
	dcfg.MaxFutureSkew = 0 // history is in the past of any clock
	eng, err := detect.New(dcfg, set, detect.SinkFunc(bt.alert), prometheus.NewRegistry(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch rules backtest:", err)
		return 1
	}
	src := eventstore.New(store)
	var q detect.Querier = src
	if bt.tenant != "" {
		q = oneTenant{Querier: src, tenant: bt.tenant}
	}
	var keep func(*event.Event) bool
	if bt.tenant != "" {
		keep = func(ev *event.Event) bool { return ev.Tenant == bt.tenant }
	}
	st, err := detect.Backtest(ctx, eng, src, q, from, to, keep)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch rules backtest:", err)
		return 1
	}
	errw := bufio.NewWriter(stderr)
	defer errw.Flush()
	if bt.summary(errw, set, st, from, to, *examples) {
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

// oneTenant runs scheduled rules for one tenant only.
type oneTenant struct {
	detect.Querier
	tenant string
}

func (o oneTenant) Tenants(context.Context) ([]string, error) { return []string{o.tenant}, nil }

type backtest struct {
	out    *json.Encoder
	tenant string
	byRule map[string]*ruleTally
	total  int
}

type ruleTally struct {
	byDay    map[string]int
	examples []detect.Alert
}

func (bt *backtest) alert(a detect.Alert) error {
	if !a.Final {
		return nil
	}
	bt.total++
	t := bt.byRule[a.Rule]
	if t == nil {
		t = &ruleTally{byDay: map[string]int{}}
		bt.byRule[a.Rule] = t
	}
	t.byDay[a.First.UTC().Format("2006-01-02")]++
	if len(t.examples) < 10 {
		t.examples = append(t.examples, a)
	}
	return bt.out.Encode(a)
}

// summary writes the per-rule, per-day summary with examples, and reports
// whether a rule went over its budget on any day.
func (bt *backtest) summary(w io.Writer, set *rules.Set, st detect.BacktestStats, from, to time.Time, examples int) bool {
	days := int(to.Sub(from).Hours()/24 + 0.999)
	fmt.Fprintf(w, "scimwatch rules backtest: %s to %s (%d days): %d events evaluated, %d scheduled runs, %d alerts; learned from %d events since %s\n\n",
		from.Format(time.RFC3339), to.Format(time.RFC3339), days, st.Evaluated, st.Runs, bt.total, st.Learned, st.LearnFrom.Format("2006-01-02"))
	fmt.Fprintf(w, "%-30s %-10s %7s %8s %8s %7s %9s\n", "RULE", "KIND", "ALERTS", "PER DAY", "MAX DAY", "BUDGET", "DAYS OVER")
	over := false
	for _, r := range set.Rules {
		t := bt.byRule[r.ID]
		n, maxDay, daysOver := 0, 0, 0
		if t != nil {
			for _, c := range t.byDay {
				n += c
				maxDay = max(maxDay, c)
				if r.MaxAlertsPerDay > 0 && c > r.MaxAlertsPerDay {
					daysOver++
				}
			}
		}
		budget, overS := "-", "-"
		if r.MaxAlertsPerDay > 0 {
			budget, overS = fmt.Sprint(r.MaxAlertsPerDay), fmt.Sprint(daysOver)
		}
		over = over || daysOver > 0
		fmt.Fprintf(w, "%-30s %-10s %7d %8.1f %8d %7s %9s\n", r.ID, r.Kind(), n, float64(n)/float64(max(days, 1)), maxDay, budget, overS)
	}
	for _, r := range set.Rules {
		t := bt.byRule[r.ID]
		if t == nil {
			continue
		}
		var days []string
		for _, d := range slices.Sorted(maps.Keys(t.byDay)) {
			mark := ""
			if r.MaxAlertsPerDay > 0 && t.byDay[d] > r.MaxAlertsPerDay {
				mark = " (over budget)"
			}
			days = append(days, fmt.Sprintf("%s: %d%s", d, t.byDay[d], mark))
		}
		fmt.Fprintf(w, "\n%s\n  per day: %s\n", r.ID, strings.Join(days, ", "))
		for i, a := range t.examples {
			if i >= examples {
				break
			}
			fmt.Fprintf(w, "  e.g. %s %s: %s\n", a.First.UTC().Format("2006-01-02 15:04"), a.Tenant, a.Title)
		}
	}
	return over
}
