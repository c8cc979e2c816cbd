package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/kafka"
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
	case *out == "" && *brokers == "":
		return fs.fail("name where live records go: --brokers or --out")
	case *days > 0 && *out == "" && *config == "":
		return fs.fail("--days needs --config (import into ClickHouse) or --out")
	case *rate < 1 || *admins < 2 || *users <= *admins || *days < 0 || *days > 400:
		return fs.fail("--rate at least 1, --admins at least 2 and fewer than --users, --days from 0 to 400")
	}
	sim := &simulation{stdout: c.stdout, stderr: c.stderr}
	cfg := synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(*users, *admins), End: time.Now().UTC(), Days: max(*days, 1), Seed: *seed, Plant: *days > 0}
	var chCfg *clickhouse.Config
	if *days > 0 && *out == "" {
		ch, err := loadClickHouseSection(*config)
		if err != nil {
			fmt.Fprintln(c.stderr, "scimwatch simulate:", err)
			return 1
		}
		chCfg = &ch
	}
	if err := sim.backfill(ctx, cfg, *days > 0, *out, chCfg); err != nil {
		fmt.Fprintln(c.stderr, "scimwatch simulate:", err)
		return 1
	}
	var sink liveSink
	if *out != "" {
		sink = &fileSink{dir: *out, files: map[string]*bufio.Writer{}}
	} else {
		sink = newKafkaSink(strings.Split(*brokers, ","), *prefix)
	}
	defer sink.Close()
	if err := sim.live(ctx, sink, *rate, *duration, *every, scenarios); err != nil && ctx.Err() == nil {
		fmt.Fprintln(c.stderr, "scimwatch simulate:", err)
		return 1
	}
	return 0
}

// simulation is a simulate run: the history, then live traffic.
type simulation struct {
	stdout, stderr io.Writer
	sim            *synth.Simulation
	// OnInject, when set, is called with each attack injected.
	OnInject func(synth.Plant)
}

// backfill generates the history; when write is set it goes to dir (one
// file per tenant and source) or is imported into ClickHouse.
func (s *simulation) backfill(ctx context.Context, cfg synth.HistoryConfig, write bool, dir string, chCfg *clickhouse.Config) error {
	if !write {
		sim, _, err := synth.Simulate(cfg, func(string, string, []byte) error { return nil })
		s.sim = sim
		return err
	}
	tmp := dir
	if dir == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "scimwatch-simulate-"); err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fsink := &fileSink{dir: tmp, files: map[string]*bufio.Writer{}, suffix: "history"}
	start := time.Now()
	sim, plants, err := synth.Simulate(cfg, func(tenant, src string, rec []byte) error { return fsink.Write(ctx, tenant, src, rec) })
	if cerr := fsink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	s.sim = sim
	fmt.Fprintf(s.stdout, "history: %d days, %d records, generated in %s; planted in it:\n", cfg.Days, fsink.n, time.Since(start).Round(time.Millisecond))
	for _, p := range plants {
		fmt.Fprintf(s.stdout, "  %-26s tenant %-8s key %-30s %s\n", p.Rule, p.Tenant, p.Key, p.At.UTC().Format(time.RFC3339))
	}
	if dir != "" {
		return nil
	}
	st, err := importFiles(ctx, *chCfg, fsink.tenantOf, s.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "history imported into ClickHouse (%s): %d events\n", chCfg.Database, st.Events)
	return nil
}

// importFiles imports files (each with its tenant) into ClickHouse, as
// scimwatch import does.
func importFiles(ctx context.Context, chCfg clickhouse.Config, files map[string]string, errw io.Writer) (source.Stats, error) {
	store, err := clickhouse.Open(chCfg, nil)
	if err != nil {
		return source.Stats{}, err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return source.Stats{}, fmt.Errorf("preparing ClickHouse: %w", err)
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.Sort(names)
	w := bufio.NewWriter(errw)
	defer w.Flush()
	im := &importer{store: store, n: source.Auto{}, perFile: fileTenants(files), batch: 20000, maxRecord: source.DefaultMaxRecord, errw: w, started: time.Now()}
	err = im.run(ctx, names)
	st := im.stats()
	if err == nil && st.Rejected > 0 {
		err = fmt.Errorf("%d history records rejected", st.Rejected)
	}
	return st, err
}

// live runs the live traffic and the attacks until duration (0: ctx) ends.
func (s *simulation) live(ctx context.Context, sink liveSink, rate int, duration, every time.Duration, scenarios []string) error {
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	emit := func(tenant, src string, rec []byte) error { return sink.Write(ctx, tenant, src, rec) }
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var next time.Time
	if every > 0 {
		next = time.Now().Add(min(every, 5*time.Second))
	}
	for i := 0; ; {
		select {
		case <-ctx.Done():
			return sink.Flush(context.WithoutCancel(ctx))
		case now := <-tick.C:
			if err := s.sim.Tick(now.UTC(), rate, emit); err != nil {
				return err
			}
			if every > 0 && !now.Before(next) {
				p, err := s.sim.Inject(scenarios[i%len(scenarios)], "", now.UTC(), emit)
				if err != nil {
					return err
				}
				i++
				next = now.Add(every)
				fmt.Fprintf(s.stdout, "injected %-26s tenant %-8s key %s\n", p.Rule, p.Tenant, p.Key)
				if s.OnInject != nil {
					s.OnInject(p)
				}
			}
			if err := sink.Flush(ctx); err != nil {
				return err
			}
		}
	}
}

// liveSink is where simulated records go.
type liveSink interface {
	Write(ctx context.Context, tenant, src string, rec []byte) error
	Flush(ctx context.Context) error
	Close() error
}

// fileSink writes records to DIR/<tenant>.<source>[.<suffix>].ndjson.
type fileSink struct {
	dir      string
	suffix   string
	files    map[string]*bufio.Writer
	closers  []*os.File
	tenantOf map[string]string
	n        int
}

func (f *fileSink) Write(_ context.Context, tenant, src string, rec []byte) error {
	name := tenant + "." + src
	if f.suffix != "" {
		name += "." + f.suffix
	}
	name = filepath.Join(f.dir, name+".ndjson")
	w := f.files[name]
	if w == nil {
		fh, err := os.Create(name)
		if err != nil {
			return err
		}
		f.closers = append(f.closers, fh)
		w = bufio.NewWriterSize(fh, 256<<10)
		f.files[name] = w
		if f.tenantOf == nil {
			f.tenantOf = map[string]string{}
		}
		f.tenantOf[name] = tenant
	}
	f.n++
	if _, err := w.Write(rec); err != nil {
		return err
	}
	return w.WriteByte('\n')
}

func (f *fileSink) Flush(context.Context) error {
	for _, w := range f.files {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func (f *fileSink) Close() error {
	err := f.Flush(context.Background())
	for _, fh := range f.closers {
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// kafkaSink writes records to PREFIX<tenant>, keyed by tenant.
type kafkaSink struct {
	w       *kafkago.Writer
	prefix  string
	mu      sync.Mutex
	pending []kafkago.Message
}

func newKafkaSink(brokers []string, prefix string) *kafkaSink {
	w := kafka.Client{Brokers: brokers}.Writer("")
	w.Balancer, w.BatchTimeout, w.BatchSize, w.RequiredAcks, w.AllowAutoTopicCreation = &kafkago.Hash{}, 5*time.Millisecond, 1000, kafkago.RequireAll, true
	return &kafkaSink{prefix: prefix, w: w}
}

func (k *kafkaSink) Write(_ context.Context, tenant, _ string, rec []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pending = append(k.pending, kafkago.Message{Topic: k.prefix + tenant, Key: []byte(tenant), Value: slices.Clone(rec)})
	return nil
}

func (k *kafkaSink) Flush(ctx context.Context) error {
	k.mu.Lock()
	msgs := k.pending
	k.pending = nil
	k.mu.Unlock()
	if len(msgs) == 0 {
		return nil
	}
	return k.w.WriteMessages(ctx, msgs...)
}

func (k *kafkaSink) Close() error { return k.w.Close() }

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
