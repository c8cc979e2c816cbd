package service

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
)

// BacktestOptions say what a backtest covers.
type BacktestOptions struct {
	// From and To bound the history replayed.
	From, To time.Time
	// Tenant narrows it to one tenant.
	Tenant string
	// Examples is how many alerts per rule the summary shows.
	Examples int
}

// Backtest runs set over the history in ClickHouse from From to To as if
// live (scimwatch rules backtest): each alert as NDJSON on stdout, then a
// summary per rule and day on stderr. over says whether a rule went over
// its max_alerts_per_day budget on a day.
func Backtest(ctx context.Context, cfg *Config, set *rules.Set, opts BacktestOptions, stdout, stderr io.Writer) (over bool, err error) {
	store, err := openMigrated(ctx, cfg.ClickHouse, nil)
	if err != nil {
		return false, err
	}
	defer store.Close()
	out := bufio.NewWriter(stdout)
	bt := &backtest{out: json.NewEncoder(out), byRule: map[string]*ruleTally{}, tenant: opts.Tenant}
	dcfg := cfg.Detect
	dcfg.MaxFutureSkew = 0 // history is in the past of any clock
	eng, err := detect.New(dcfg, set, detect.SinkFunc(bt.alert), prometheus.NewRegistry(), nil)
	if err != nil {
		return false, err
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
	st, err := detect.Backtest(ctx, eng, src, q, opts.From, opts.To, keep)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return false, err
	}
	errw := bufio.NewWriter(stderr)
	defer errw.Flush()
	return bt.summary(errw, set, st, opts.From, opts.To, opts.Examples), nil
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
