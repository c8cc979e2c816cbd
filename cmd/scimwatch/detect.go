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
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
)

// detectCmd evaluates rules on a stream of records from stdin in real time,
// printing each alert as NDJSON when it closes. SIGHUP, or a change of a
// rules file, reloads the rules; a bad rule set keeps the last good one.
func detectCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var df detectionFlags
	df.register(fs)
	level := fs.String("log-level", "info", "debug, info, warn or error")
	poll := fs.Duration("watch", 2*time.Second, "how often to look for changed rules files")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: scimwatch detect --rules DIR [--config FILE] < records.ndjson\n\nEvaluates rules on records read from stdin as they arrive and prints alerts as NDJSON.\nSIGHUP or a changed rules file reloads the rules.\n\nFlags:")
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
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg, opts, set, err := df.load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var mu sync.Mutex
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	sink := detect.SinkFunc(func(a *detect.Alert) {
		if !a.Final {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(a)
		_ = out.Flush()
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
		n, err := readEvents(stdin, "-", *df.tenant, stderr, eng.Process)
		done <- result{n, err}
	}()
	var rejected int
	select {
	case r := <-done:
		if r.err != nil {
			fmt.Fprintln(stderr, "scimwatch detect:", r.err)
			return 1
		}
		rejected = r.rejected
	case <-ctx.Done(): // SIGINT or SIGTERM: close the open alerts and stop
	}
	eng.Flush()
	if rejected > 0 {
		return 1
	}
	return 0
}
