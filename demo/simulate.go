package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/ingest/importer"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Simulation is a simulate run: the history, then live traffic.
type Simulation struct {
	// Stdout gets what was simulated, Stderr what went wrong.
	Stdout, Stderr io.Writer
	sim            *synth.Simulation
	// OnInject, when set, is called with each attack injected.
	OnInject func(synth.Plant)
}

// Sim is the simulation of the tenants (after Backfill).
func (s *Simulation) Sim() *synth.Simulation { return s.sim }

// Backfill generates the history; when write is set it goes to dir (one
// file per tenant and source) or is imported into ClickHouse.
func (s *Simulation) Backfill(ctx context.Context, cfg synth.HistoryConfig, write bool, dir string, chCfg *clickhouse.Config) error {
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
	fmt.Fprintf(s.Stdout, "history: %d days, %d records, generated in %s; planted in it:\n", cfg.Days, fsink.n, time.Since(start).Round(time.Millisecond))
	for _, p := range plants {
		fmt.Fprintf(s.Stdout, "  %-26s tenant %-8s key %-30s %s\n", p.Rule, p.Tenant, p.Key, p.At.UTC().Format(time.RFC3339))
	}
	if dir != "" {
		return nil
	}
	st, err := importFiles(ctx, *chCfg, fsink.tenantOf, s.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stdout, "history imported into ClickHouse (%s): %d events\n", chCfg.Database, st.Events)
	return nil
}

// importFiles imports files (each with its tenant) into ClickHouse, as
// scimwatch import does.
func importFiles(ctx context.Context, chCfg clickhouse.Config, files map[string]string, errw io.Writer) (source.Stats, error) {
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.Sort(names)
	st, err := importer.Run(ctx, importer.Config{ClickHouse: chCfg, Limits: source.DefaultLimits(), Normalizer: source.Auto{}, FileTenants: files,
		Batch: 20000, MaxRecord: source.DefaultMaxRecord}, names, nil, errw)
	if err == nil && st.Rejected > 0 {
		err = fmt.Errorf("%d history records rejected", st.Rejected)
	}
	return st, err
}

// Live runs the live traffic and the attacks until duration (0: ctx) ends.
func (s *Simulation) Live(ctx context.Context, sink Sink, rate int, duration, every time.Duration, scenarios []string) error {
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
				fmt.Fprintf(s.Stdout, "injected %-26s tenant %-8s key %s\n", p.Rule, p.Tenant, p.Key)
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

// Sink is where simulated records go.
type Sink interface {
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
	counts   map[string]int
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
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	f.counts[name]++
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

// NewKafkaSink returns a sink writing each tenant's records to the topic
// PREFIX<tenant> of brokers, keyed by tenant.
func NewKafkaSink(client kafka.Client, prefix string) Sink {
	w := client.Writer("")
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

// NewFileSink returns a sink writing one file per tenant and source in dir.
func NewFileSink(dir string) Sink { return &fileSink{dir: dir, files: map[string]*bufio.Writer{}} }
