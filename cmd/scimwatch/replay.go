package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// detectionFlags are the flags replay and detect share: the rules, the
// detection config and the default tenant.
type detectionFlags struct {
	dirs   []string
	config *string
	tenant *string
}

// register registers the flags; tenantHelp is what --tenant means to the
// command.
func (d *detectionFlags) register(fs *flag.FlagSet, tenantHelp string) {
	fs.Func("rules", "rules `DIR` or file (repeatable; required)", func(s string) error { d.dirs = append(d.dirs, s); return nil })
	d.config = fs.String("config", "", "detection config `FILE`: calendar: and detect: (thresholds per tenant, lateness)")
	d.tenant = fs.String("tenant", "", tenantHelp)
}

const recordsTenant = "`TENANT` for records that name none"

// load reads the detection config and the rules.
func (d *detectionFlags) load() (detectionConfig, rules.Options, *rules.Set, error) {
	cfg, err := loadDetectionConfig(*d.config)
	if err != nil {
		return cfg, rules.Options{}, nil, fmt.Errorf("--config: %w", err)
	}
	opts := rules.Options{Calendar: cfg.Calendar}
	set, err := loadRules(opts, d.dirs)
	return cfg, opts, set, err
}

// loadRules loads rule directories or files, naming the flag in what goes
// wrong: a path that is not there, or no rule at all.
func loadRules(opts rules.Options, paths []string) (*rules.Set, error) {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("--rules %s: %w", p, errors.Unwrap(err))
		}
	}
	set, err := rules.Load(opts, paths...)
	if err != nil {
		return nil, err
	}
	if len(set.Rules) == 0 {
		return nil, fmt.Errorf("--rules %s: no rules found (rules are *.yaml or *.yml files with a rules: list)", strings.Join(paths, " "))
	}
	return set, nil
}

func replayCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "replay", args: "FILE|-...",
		about: `Normalizes raw or canonical events from the files, evaluates the rules on
them offline in event-time order, and prints each alert as NDJSON when it is
final. The files are read as streams and merged by event time; each may be out
of order by up to detect.allowed_lateness (1m by default), and memory is
bounded by that window, not by the files. A summary goes to stderr; the exit
status is 1 if a record was rejected. With --notify, the alerts also go
through the config's alerting: integrations, as production would send them.`,
		example: `scimwatch generate --count 50000 --step 2s > day.ndjson
scimwatch replay --rules rules/builtin day.ndjson`})
	var df detectionFlags
	df.register(fs.FlagSet, recordsTenant)
	level := fs.String("log-level", "warn", "`LEVEL`: debug, info, warn or error")
	notify := fs.Bool("notify", false, "also deliver the alerts through the --config's alerting: integrations (Slack, Alertmanager), as production would")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdin, stdout, stderr := c.stdin, c.stdout, c.stderr
	if len(df.dirs) == 0 {
		return fs.fail("--rules is required")
	}
	if fs.NArg() == 0 {
		return fs.fail("name the files to replay (- for stdin)")
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return fs.fail("%v", err)
	}
	cfg, _, set, err := df.load()
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch replay:", err)
		return 1
	}
	errw := bufio.NewWriter(stderr)
	defer errw.Flush()

	var streams []*eventStream
	for _, name := range fs.Args() {
		var r io.Reader = stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(errw, "scimwatch replay:", err)
				return 1
			}
			defer f.Close()
			r = f
		}
		streams = append(streams, newEventStream(r, name, *df.tenant, errw))
	}

	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	alerts := 0
	print := detect.SinkFunc(func(a detect.Alert) error {
		if !a.Final {
			return nil
		}
		alerts++
		if err := enc.Encode(a); err != nil {
			return err
		}
		return out.Flush() // alerts are few: each is out as soon as it is final
	})
	reg := prometheus.NewRegistry()
	var nf *notifying
	if *notify {
		if !cfg.Alerting.enabled() {
			return fs.fail("--notify needs --config with an alerting: section naming slack or alertmanager")
		}
		if nf, err = startNotifying(ctx, &cfg, reg, logger); err != nil {
			fmt.Fprintln(stderr, "scimwatch replay:", err)
			return 1
		}
		defer nf.stop(time.Minute)
	}
	eng, err := detect.New(cfg.Detect, set, nf.sink(print), reg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch replay:", err)
		return 1
	}
	merged, err := mergeStreams(streams)
	for i := 0; err == nil; i++ {
		if i&4095 == 0 && ctx.Err() != nil {
			return 1
		}
		var ev *event.Event
		if ev, err = merged.Next(); err == nil {
			// The sink refused (alerting's store is down): the engine
			// keeps the alerts, hands them over again and says so.
			_ = eng.Process(ev)
		}
	}
	if err != io.EOF {
		fmt.Fprintln(errw, "scimwatch replay:", err)
		return 1
	}
	if err := flushWithRetry(ctx, eng); err != nil {
		fmt.Fprintln(errw, "scimwatch replay:", err)
		return 1
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(errw, "scimwatch replay:", err)
		return 1
	}
	rejected := 0
	for _, s := range streams {
		rejected += s.rejected
	}
	st := eng.Stats()
	fmt.Fprintf(errw, "scimwatch replay: %d events, %d alerts, %d records rejected", st.Events, alerts, rejected)
	if st.Late > 0 {
		fmt.Fprintf(errw, ", %d events more than %v out of order (evaluated as they came)", st.Late, cfg.Detect.AllowedLateness)
	}
	if st.Future > 0 {
		fmt.Fprintf(errw, ", %d events dated more than %v ahead of the clock", st.Future, cfg.Detect.MaxFutureSkew)
	}
	fmt.Fprintln(errw)
	if rejected > 0 {
		return 1
	}
	return 0
}

// flushWithRetry flushes the engine, handing over what the sink refused
// until it takes it (a minute at most).
func flushWithRetry(ctx context.Context, eng *detect.Engine) error {
	deadline := time.After(time.Minute)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		err := eng.Flush()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-deadline:
			return err
		case <-t.C:
		}
	}
}
