package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
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
func detectCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df detectionFlags
	df.register(fs)
	level := fs.String("log-level", "info", "debug, info, warn or error")
	poll := fs.Duration("watch", 2*time.Second, "how often to look for changed rules files")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: scimwatch detect --rules DIR [--config FILE] < records.ndjson\n\nEvaluates rules on records read from stdin as they arrive and prints alerts as NDJSON:\nonce when an alert fires, and once more when an alert with a dedup period is resolved.\nSIGHUP or a changed rules file reloads the rules.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(df.dirs) == 0 || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch detect:", err)
		return 2
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
	eng, err := detect.New(cfg.Detect, set, sink, reg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch detect:", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go detect.NewReloader(df.dirs, opts, eng, *poll, reg, logger).Run(rctx, hup)

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
			if err := eng.Process(ev); err != nil {
				logger.Error("alerts not delivered; they will be retried", "err", err)
			}
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
			if err := eng.Tick(); err != nil {
				logger.Error("alerts not delivered; they will be retried", "err", err)
			}
		case <-ctx.Done(): // SIGINT or SIGTERM: resolve the open alerts and stop
			running = false
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
