package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/detect/eventstore"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

type historyBench struct {
	out    io.Writer
	chAddr string
	dir    string
	runs   int
	keep   bool
	id     string
	tmp    string
}

func (b *historyBench) chConfig(db string) clickhouse.Config {
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.Database, cfg.Compression = []string{b.chAddr}, db, "none"
	return cfg
}

func (b *historyBench) run(ctx context.Context, users, admins, days, events int) error {
	if err := clickhouse.Reachable(ctx, b.chAddr); err != nil {
		return fmt.Errorf("%w\nstart it with ./.ci/services.sh start", err)
	}
	set, err := rules.Load(rules.Options{}, b.dir)
	if err != nil {
		return err
	}
	b.id = strconv.FormatInt(time.Now().UnixNano(), 36)
	if b.tmp, err = os.MkdirTemp("", "scimwatch-bench-history-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	end := time.Now().UTC().Truncate(time.Hour)
	// 1. Generate (a child: this process's memory stays the warm's) and
	// import.
	gen := exec.CommandContext(ctx, exe, "generate", "history", "--out", b.tmp, "--days", strconv.Itoa(days),
		"--users", strconv.Itoa(users), "--admins", strconv.Itoa(admins), "--tenants", "acme", "--end", end.Format(time.RFC3339))
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("generate history: %v: %s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(b.tmp, "*.ndjson"))
	var size int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	fmt.Fprintf(b.out, "history: %d days to %s, tenant acme (Okta and its SCIM clients, America/New_York), %d users, %d admins: %d files, %.0f MiB\n",
		days, end.Format(time.RFC3339), users, admins, len(files), float64(size)/(1<<20))
	warmDB, err := b.importRuns(ctx, exe, files)
	if !b.keep {
		defer clickhouse.DropDatabase(b.chConfig(warmDB))
	}
	if err != nil {
		return err
	}
	if err := b.warmRuns(ctx, set, warmDB, end); err != nil {
		return err
	}
	if events > 0 {
		return b.scheduledRuns(ctx, set, events, end)
	}
	return nil
}

var importLine = regexp.MustCompile(`(\d+) events imported in ([\d.]+)s`)

// importRuns imports files runs times, each into a new database, and
// returns the last one's name (the others are dropped unless keep).
func (b *historyBench) importRuns(ctx context.Context, exe string, files []string) (string, error) {
	fmt.Fprintf(b.out, "\nimport (scimwatch import, a child process, into an empty database each run):\n")
	var rates, rss []float64
	var db string
	for i := 0; i < b.runs; i++ {
		if db != "" && !b.keep {
			clickhouse.DropDatabase(b.chConfig(db))
		}
		db = fmt.Sprintf("scimwatch_bench_import_%s_%d", b.id, i)
		cfgPath := filepath.Join(b.tmp, "import.yaml")
		cfg := fmt.Sprintf("clickhouse:\n  addrs: [%s]\n  database: %s\n  compression: none\n", b.chAddr, db)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return "", err
		}
		cmd := exec.CommandContext(ctx, exe, append([]string{"import", "--config", cfgPath, "--tenant", "acme"}, files...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return db, fmt.Errorf("import: %v: %s", err, stderr.String())
		}
		m := importLine.FindStringSubmatch(stderr.String())
		if m == nil {
			return db, fmt.Errorf("import printed no summary: %s", stderr.String())
		}
		n, _ := strconv.Atoi(m[1])
		secs, _ := strconv.ParseFloat(m[2], 64)
		maxRSS := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
		rates, rss = append(rates, float64(n)/secs), append(rss, maxRSS)
		fmt.Fprintf(b.out, "  run %d: %d events in %.1f s: %.0f events/s, peak RSS %.0f MiB\n", i+1, n, secs, float64(n)/secs, maxRSS)
	}
	fmt.Fprintf(b.out, "  median: %.0f events/s, peak RSS %.0f MiB\n", median(rates), median(rss))
	return db, nil
}

// warmRuns warms the learned rules of set from db runs times.
func (b *historyBench) warmRuns(ctx context.Context, set *rules.Set, db string, end time.Time) error {
	var learned []*rules.Rule
	for _, r := range set.Rules {
		if r.Learns() != nil {
			learned = append(learned, r)
		}
	}
	if len(learned) == 0 {
		return fmt.Errorf("%s has no new_term or baseline rule", b.dir)
	}
	store, err := clickhouse.Open(b.chConfig(db), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	src := eventstore.New(store)
	runtime.GC()
	fmt.Fprintf(b.out, "\nwarm (%d rules: %s; this process's peak RSS before: %s):\n", len(learned), ruleIDs(learned), peakRSS())
	var secs, rates, heaps []float64
	for i := 0; i < b.runs; i++ {
		cfg := detect.DefaultConfig()
		cfg.MaxFutureSkew = 0
		eng, err := detect.New(cfg, set.Subset(learned...), detect.SinkFunc(func(detect.Alert) error { return nil }), prometheus.NewRegistry(), nil)
		if err != nil {
			return err
		}
		st, err := eng.Warm(ctx, src, end)
		if err != nil {
			return err
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		runtime.KeepAlive(eng)
		heap := float64(ms.HeapInuse) / (1 << 20)
		s := st.Elapsed.Seconds()
		secs, rates, heaps = append(secs, s), append(rates, float64(st.Events)/s), append(heaps, heap)
		fmt.Fprintf(b.out, "  run %d: %d events from %s in %.2f s: %.0f events/s; heap in use after it %.0f MiB; state: %d terms of %d keys, %d series of %d hours\n",
			i+1, st.Events, st.From.Format("2006-01-02"), s, float64(st.Events)/s, heap, st.Terms, st.Keys, st.Series, st.Hours)
	}
	fmt.Fprintf(b.out, "  median: %.2f s, %.0f events/s, heap after %.0f MiB; peak RSS of this process %s\n", median(secs), median(rates), median(heaps), peakRSS())
	return nil
}

// scheduledRuns fills a database with n events and times each scheduled
// rule's query on it.
func (b *historyBench) scheduledRuns(ctx context.Context, set *rules.Set, n int, end time.Time) error {
	var sched []*rules.Rule
	for _, r := range set.Rules {
		if r.Scheduled != nil {
			sched = append(sched, r)
		}
	}
	if len(sched) == 0 {
		return nil
	}
	db := "scimwatch_bench_scheduled_" + b.id
	cfg := b.chConfig(db)
	if !b.keep {
		defer clickhouse.DropDatabase(cfg)
	}
	store, err := clickhouse.Open(cfg, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	const tenantUsers = 200000
	start := time.Now()
	if err := store.Conn().Exec(ctx, fillEvents(db, n, tenantUsers, end.AddDate(0, 0, -90), end)); err != nil {
		return fmt.Errorf("filling %s: %w", db, err)
	}
	fmt.Fprintf(b.out, "\nscheduled (%d events: tenants acme, globex and initech of %d users each, 90 days to %s; inserted in %.1f s through the account views):\n",
		n, tenantUsers, end.Format("2006-01-02"), time.Since(start).Seconds())
	for _, table := range []string{"account_days", "account_roles"} {
		var rows uint64
		if err := store.Conn().QueryRow(ctx, "SELECT count() FROM "+db+"."+table).Scan(&rows); err == nil {
			fmt.Fprintf(b.out, "  %s: %d rows\n", table, rows)
		}
	}
	dcfg := detect.DefaultConfig()
	eng, err := detect.New(dcfg, set.Subset(sched...), detect.SinkFunc(func(detect.Alert) error { return nil }), prometheus.NewRegistry(), nil)
	if err != nil {
		return err
	}
	src := eventstore.New(store)
	tenants := []string{"acme", "globex", "initech"}
	for _, r := range sched {
		var secs []float64
		var read uint64
		var rows int
		for i := 0; i < b.runs; i++ {
			for _, t := range tenants {
				st, err := src.Query(ctx, eng.ScheduledQuery(r, t, end), func(map[string]any) error { return nil })
				if err != nil {
					return fmt.Errorf("rule %s, tenant %s: %w", r.ID, t, err)
				}
				secs = append(secs, st.Elapsed.Seconds())
				read, rows = st.RowsRead, st.Rows
			}
		}
		slices.Sort(secs)
		fmt.Fprintf(b.out, "  %-16s median %.3f s per tenant query (min %.3f, max %.3f, %d queries), %d rows read, %d rows returned (initech)\n",
			r.ID, median(secs), secs[0], secs[len(secs)-1], len(secs), read, rows)
	}
	return nil
}

// fillEvents is an INSERT ... SELECT of n events spread evenly over [from,
// to): for each of three tenants, users u0..u(users-1) who sign in (70%),
// a SCIM client updating them (15%), 100 admins changing group
// memberships (7%, a third of them in a privileged group) and roles (3%),
// and creating, activating, deactivating and suspending users (5%).
func fillEvents(db string, n, users int, from, to time.Time) string {
	return fillEventsPart(db, 0, n, n, users, from, to)
}

// fillEventsPart is the part [offset, offset+count) of fillEvents(db, n,
// ...): an INSERT of 100 million rows at once outlasts a client's read
// timeout, parts of 10 million do not.
func fillEventsPart(db string, offset, count, n, users int, from, to time.Time) string {
	return fmt.Sprintf(`INSERT INTO %[1]s.events (tenant, id, time, time_ms, source, raw_type, action, outcome,
    actor_id, actor_type, actor_email, actor_ip, target_ids, target_types, target_names, target_emails, kafka_topic)
SELECT tenant, id, time, time_ms, 'okta', action, action, 'success',
    if(action = 'user.login', user, if(action = 'user.update', 'scim-client', concat('admin-', toString(cityHash64(number, 3) %% 100)))),
    if(action = 'user.update', 'app', 'user'),
    if(action = 'user.login', concat(user, '@', tenant, '.example'), ''),
    '10.0.0.1',
    multiIf(action = 'user.login', emptyArrayString(), kind != '', [user, name], [user]),
    multiIf(action = 'user.login', emptyArrayString(), kind != '', ['user', kind], ['user']),
    multiIf(action = 'user.login', emptyArrayString(), kind != '', ['', name], ['']),
    multiIf(action = 'user.login', emptyArrayString(), kind != '', [concat(user, '@', tenant, '.example'), ''], [concat(user, '@', tenant, '.example')]),
    'bench'
FROM (
    SELECT number,
        ['acme', 'globex', 'initech'][number %% 3 + 1] AS tenant,
        concat('bench-', toString(number)) AS id,
        toDateTime(%[2]d + intDiv(number * %[3]d, %[4]d)) AS time,
        toUInt16(number %% 1000) AS time_ms,
        cityHash64(number) %% 100 AS r,
        concat('u', toString(cityHash64(number, 1) %% %[5]d)) AS user,
        multiIf(r < 70, 'user.login', r < 85, 'user.update', r < 90, 'group.member.add', r < 92, 'group.member.remove',
            r < 94, 'role.grant', r < 95, 'role.revoke', r < 97, 'user.create', r < 98, 'user.activate',
            r < 99, 'user.deactivate', 'user.suspend') AS action,
        multiIf(r >= 85 AND r < 92, 'group', r >= 92 AND r < 95, 'role', '') AS kind,
        if(kind = 'group', ['Engineering', 'Sales', 'Domain Admins'][cityHash64(number, 2) %% 3 + 1],
            ['Super administrator', 'Help Desk Administrator', 'Report Reader'][cityHash64(number, 2) %% 3 + 1]) AS name
    FROM (SELECT number + %[6]d AS number FROM numbers(%[7]d))
)`, db, from.Unix(), int64(to.Sub(from)/time.Second), n, users, offset, count)
}

func ruleIDs(rs []*rules.Rule) string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ", ")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

// History measures import, warming the learned rules and the scheduled
// queries on ClickHouse (scimwatch bench history).
func History(ctx context.Context, out io.Writer, chAddr, dir string, runs int, keep bool, users, admins, days, events int) error {
	b := &historyBench{out: out, chAddr: chAddr, dir: dir, runs: runs, keep: keep}
	return b.run(ctx, users, admins, days, events)
}
