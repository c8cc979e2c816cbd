package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

// detectionConfig is the file --config names for replay and the rules
// commands: the calendar of the time helpers and the engine's settings.
type detectionConfig struct {
	Calendar *rules.Calendar `yaml:"calendar"`
	Detect   detect.Config   `yaml:"detect"`
}

func loadDetectionConfig(path string) (detectionConfig, error) {
	cfg := detectionConfig{Detect: detect.DefaultConfig()}
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Detect.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: detect: %w", path, err)
	}
	return cfg, nil
}

// detectionFlags are the flags replay and detect share: the rules, the
// detection config and the default tenant.
type detectionFlags struct {
	dirs   []string
	config *string
	tenant *string
}

func (d *detectionFlags) register(fs *flag.FlagSet) {
	fs.Func("rules", "rules directory or file (repeatable)", func(s string) error { d.dirs = append(d.dirs, s); return nil })
	d.config = fs.String("config", "", "YAML file with calendar: and detect: (thresholds per tenant, lateness)")
	d.tenant = fs.String("tenant", "", "tenant for records that name none")
}

// load reads the detection config and the rules.
func (d *detectionFlags) load() (detectionConfig, rules.Options, *rules.Set, error) {
	cfg, err := loadDetectionConfig(*d.config)
	if err != nil {
		return cfg, rules.Options{}, nil, err
	}
	opts := rules.Options{Calendar: cfg.Calendar}
	set, err := rules.Load(opts, d.dirs...)
	return cfg, opts, set, err
}

func replayCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df detectionFlags
	df.register(fs)
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: scimwatch replay --rules DIR [--config FILE] [--tenant T] FILE|-...

Normalizes raw or canonical events from the files, evaluates the rules on
them offline in event-time order, and prints each alert as NDJSON when it
is final. The files are read as streams and merged by event time; each may
be out of order by up to detect.allowed_lateness (1m by default), and memory
is bounded by that window, not by the files.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(df.dirs) == 0 || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch replay:", err)
		return 2
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
	eng, err := detect.New(cfg.Detect, set, detect.SinkFunc(func(a detect.Alert) error {
		if !a.Final {
			return nil
		}
		alerts++
		if err := enc.Encode(a); err != nil {
			return err
		}
		return out.Flush() // alerts are few: each is out as soon as it is final
	}), prometheus.NewRegistry(), logger)
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
			err = eng.Process(ev)
		}
	}
	if err != io.EOF {
		fmt.Fprintln(errw, "scimwatch replay:", err)
		return 1
	}
	if err := eng.Flush(); err != nil {
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
