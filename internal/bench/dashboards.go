package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/scimwatch/scimwatch/dashboards"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func Dashboards(ctx context.Context, c IO, chAddr string, n, runs int, keep, rollup bool, existing string) error {
	if err := clickhouse.Reachable(ctx, chAddr); err != nil {
		return err
	}
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.Compression = []string{chAddr}, "none"
	cfg.Database = existing
	if existing == "" {
		cfg.Database = "scimwatch_bench_dash_" + strconv.FormatInt(time.Now().UnixNano(), 36)
		fmt.Fprintf(c.Stdout, "database %s\n", cfg.Database)
		if !keep {
			defer clickhouse.DropDatabase(cfg)
		}
	}
	store, err := clickhouse.Open(cfg, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	end := time.Now().UTC().Truncate(time.Hour)
	if existing == "" {
		start := time.Now()
		const part = 10000000
		for off := 0; off < n; off += part {
			if err := store.Conn().Exec(ctx, fillEventsPart(cfg.Database, off, min(part, n-off), n, 200000, end.AddDate(0, 0, -90), end)); err != nil {
				return fmt.Errorf("filling: %w", err)
			}
		}
		fmt.Fprintf(c.Stdout, "%d events in %s (3 tenants, 90 days to %s), inserted in %.0f s\n", n, cfg.Database, end.Format("2006-01-02"), time.Since(start).Seconds())
	} else {
		_ = store.Conn().QueryRow(ctx, "SELECT max(time) FROM "+cfg.Database+".events").Scan(&end)
	}
	var total uint64
	_ = store.Conn().QueryRow(ctx, "SELECT count() FROM "+cfg.Database+".events").Scan(&total)
	fmt.Fprintf(c.Stdout, "events table: %d rows\n", total)
	// Some alerts, for the alerts panels to have rows to read.
	if err := store.Conn().Exec(ctx, "INSERT INTO "+cfg.Database+`.alerts (tenant, id, rule, severity, status, first, first_ms, last_ms, count, version, status_at_ms)
SELECT ['acme', 'globex', 'initech'][number % 3 + 1], toString(number), ['bulk-role-change', 'privileged-role-grant', 'stale-account'][number % 3 + 1],
    'high', ['firing', 'acknowledged'][number % 2 + 1], toDateTime(`+strconv.FormatInt(end.Unix(), 10)+` - number * 60), 0, 0, 1, 1, 0 FROM numbers(100000)`); err != nil {
		return err
	}
	if rollup {
		start := time.Now()
		st, err := store.Rollup(ctx, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "roll-ups: %d days rolled up in %.1f s (%d already current)\n", len(st.Rolled), time.Since(start).Seconds(), st.Current)
	}
	conn, err := store.QueryConn()
	if err != nil {
		return err
	}
	src := &queryTimer{conn: conn}
	tenants := []string{"acme", "globex", "initech"}
	for _, span := range []time.Duration{7 * 24 * time.Hour, 90 * 24 * time.Hour} {
		interval := niceInterval(span / 200)
		fmt.Fprintf(c.Stdout, "\nlast %d days, interval %s:\n", int(span.Hours()/24), interval)
		for _, d := range dashboards.All() {
			for _, p := range d.Panels {
				if p.Datasource != dashboards.ClickHouse {
					continue
				}
				q, err := dashboards.Expand(p.Query, tenants, end.Add(-span), end, interval)
				if err != nil {
					return err
				}
				var secs []float64
				var read uint64
				for i := 0; i < runs; i++ {
					s, r, err := src.run(ctx, q)
					if err != nil {
						return fmt.Errorf("%s: %w", p.Title, err)
					}
					secs, read = append(secs, s), r
				}
				slices.Sort(secs)
				fmt.Fprintf(c.Stdout, "  %-22s %-52s %7.3f s  %11d rows read\n", d.UID[len("scimwatch-"):], p.Title, secs[len(secs)/2], read)
			}
		}
	}
	return nil
}

// niceInterval rounds a panel's interval up as Grafana does, to one of its
// usual steps.
func niceInterval(d time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
		10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if d <= s {
			return s
		}
	}
	return 7 * 24 * time.Hour
}
