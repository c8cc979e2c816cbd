package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
)

// detectCmd evaluates rules on a stream of records from stdin in real time,
// printing each alert as NDJSON when it opens (status firing) and, if it
// has a dedup period, again when it is resolved. Simple rules alert as soon
// as their event is read; windows and sequences wait for allowed_lateness,
// of event time or, on a quiet stream, of wall-clock time. SIGHUP, or a
// change of a rules file, reloads the rules; a bad rule set keeps the last
// good one.
func detectCmd(ctx context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "detect",
		about: `Evaluates rules on records read from stdin as they arrive (raw of any source,
or canonical) and prints alerts as NDJSON: once when an alert fires, and once
more when an alert with a dedup period is resolved. With an alerting: section
in --config, alerts also go to Slack and Alertmanager. Simple rules alert as soon
as their event is read; windows and sequences wait for allowed_lateness of
event time or, on a quiet stream, of wall-clock time. SIGHUP or a changed rules
file reloads the rules; a rule set that does not load keeps the last good one.`,
		example: `tail -F /var/log/scim/requests.ndjson | scimwatch detect --rules rules/builtin --config detect.yaml`})
	var df detectionFlags
	df.register(fs.FlagSet, recordsTenant)
	level := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	poll := fs.Duration("watch", 2*time.Second, "how often to look for changed rules files")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	stdin, stdout, stderr := c.stdin, c.stdout, c.stderr
	if len(df.dirs) == 0 {
		return fs.fail("--rules is required")
	}
	if fs.NArg() > 0 {
		return fs.fail("reads stdin and takes no arguments")
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return fs.fail("%v", err)
	}
	cfg, opts, set, err := df.load()
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch detect:", err)
		return 1
	}
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	// The engine hands alerts over one at a time, outside its lock.
	sink := detect.SinkFunc(func(a detect.Alert) error {
		if err := enc.Encode(a); err != nil {
			return err
		}
		return out.Flush()
	})
	reg := prometheus.NewRegistry()
	nf, err := startNotifying(ctx, &cfg, reg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch detect:", err)
		return 1
	}
	defer nf.stop(30 * time.Second)
	eng, err := detect.New(cfg.Detect, set, nf.sink(sink), reg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch detect:", err)
		return 1
	}
	// Rules that learn warm from ClickHouse, scheduled rules run there.
	hist := startHistory(ctx, &cfg, set, eng, reg, logger)
	defer hist.stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	rl := detect.NewReloader(df.dirs, opts, eng, *poll, reg, logger)
	rl.Loaded = hist.reloaded
	go rl.Run(rctx, hup)

	type result struct {
		rejected int
		err      error
	}
	done := make(chan result, 1)
	go func() {
		s := newEventStream(stdin, "-", *df.tenant, stderr)
		for {
			ev, err := s.Next()
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				done <- result{s.rejected, err}
				return
			}
			_ = eng.Process(ev) // a refusing sink: the engine holds, retries and says so
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var rejected int
	for running := true; running; {
		select {
		case r := <-done:
			if r.err != nil {
				fmt.Fprintln(stderr, "scimwatch detect:", r.err)
				return 1
			}
			rejected, running = r.rejected, false
		case <-tick.C:
			// A quiet stream: event time moves on with the wall clock.
			_ = eng.Tick()
		case <-ctx.Done():
			// SIGINT or SIGTERM: stop without resolving what is open (a
			// restart is not the end of an incident).
			return 0
		}
	}
	if err := eng.Flush(); err != nil {
		fmt.Fprintln(stderr, "scimwatch detect:", err)
		return 1
	}
	if rejected > 0 {
		return 1
	}
	return 0
}
