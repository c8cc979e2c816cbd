package service

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/event"
)

// Input is what detect and replay read, and where they report.
type Input struct {
	// Files are read as streams (- is Stdin); detect reads Stdin alone.
	Files []string
	Stdin io.Reader
	// Tenant is the tenant of records that name none.
	Tenant string
	// Stdout gets the alerts as NDJSON, Stderr the rejected records and
	// the summary.
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
}

// ErrRejected is returned when every record was read but some were
// rejected (each reported on Stderr).
var ErrRejected = fmt.Errorf("records were rejected")

// Detect evaluates rules on records read from Stdin as they arrive,
// printing each alert as NDJSON when it opens and, if it has a dedup
// period, when it is resolved; alerts also go to the alerting:
// integrations when the config names some. Rules reload on SIGHUP or when
// a file changes (every watch). It returns at the end of Stdin (what is
// open resolved) or when ctx ends (nothing resolved: a restart is not the
// end of an incident).
func Detect(ctx context.Context, cfg *Config, rulePaths []string, watch time.Duration, in Input) error {
	out := bufio.NewWriter(in.Stdout)
	enc := json.NewEncoder(out)
	// The engine hands alerts over one at a time, outside its lock.
	print := detect.SinkFunc(func(a detect.Alert) error {
		if err := enc.Encode(a); err != nil {
			return err
		}
		return out.Flush()
	})
	reg := prometheus.NewRegistry()
	var srv *Server
	if cfg.Alerting.Enabled() {
		// Slack's interactions, /metrics, /readyz.
		srv = NewServer(reg)
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		_, wait, err := srv.Serve(sctx, cfg.HTTP.Listen, in.Logger)
		if err != nil {
			stop()
			return err
		}
		defer func() { stop(); wait() }()
	}
	d, err := NewDetection(ctx, cfg, DetectionOptions{Rules: rulePaths, Out: print, Notify: cfg.Alerting.Enabled(), Live: true,
		Watch: watch, Grace: 30 * time.Second}, srv, reg, in.Logger)
	if err != nil {
		return err
	}
	defer d.Stop()
	type result struct {
		rejected int
		err      error
	}
	done := make(chan result, 1)
	go func() {
		s := newEventStream(in.Stdin, "-", in.Tenant, in.Stderr)
		for {
			ev, err := s.Next()
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				done <- result{s.rejected, err}
				return
			}
			_ = d.Engine.Process(ev) // a refusing sink: the engine holds, retries and says so
		}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return r.err
		}
		if err := d.Engine.Flush(); err != nil {
			return err
		}
		if r.rejected > 0 {
			return ErrRejected
		}
		return nil
	case <-ctx.Done():
		return nil
	}
}

// ReplayStats is what a replay read and raised.
type ReplayStats struct {
	detect.Stats
	Alerts, Rejected int
}

// Replay normalizes the files' records, evaluates the rules on them in
// event-time order (the files merged, each out of order by up to
// detect.allowed_lateness) and prints each alert as NDJSON when it is
// final; with notify, alerts also go through the alerting: integrations.
// A summary goes to Stderr. Memory is bounded by the reorder window, not
// by the files.
func Replay(ctx context.Context, cfg *Config, rulePaths []string, notify bool, in Input) (ReplayStats, error) {
	var st ReplayStats
	errw := bufio.NewWriter(in.Stderr)
	defer errw.Flush()
	var streams []*eventStream
	for _, name := range in.Files {
		r := in.Stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return st, err
			}
			defer f.Close()
			r = f
		}
		streams = append(streams, newEventStream(r, name, in.Tenant, errw))
	}
	out := bufio.NewWriter(in.Stdout)
	enc := json.NewEncoder(out)
	print := detect.SinkFunc(func(a detect.Alert) error {
		if !a.Final {
			return nil
		}
		st.Alerts++
		if err := enc.Encode(a); err != nil {
			return err
		}
		return out.Flush() // alerts are few: each is out as soon as it is final
	})
	d, err := NewDetection(ctx, cfg, DetectionOptions{Rules: rulePaths, Out: print, Notify: notify, Grace: time.Minute}, nil, prometheus.NewRegistry(), in.Logger)
	if err != nil {
		return st, err
	}
	defer d.Stop()
	merged, err := mergeStreams(streams)
	for i := 0; err == nil; i++ {
		if i&4095 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		var ev *event.Event
		if ev, err = merged.Next(); err == nil {
			// The sink refused (alerting's store is down): the engine
			// keeps the alerts, hands them over again and says so.
			_ = d.Engine.Process(ev)
		}
	}
	if err != io.EOF {
		return st, err
	}
	if err := d.Flush(ctx); err != nil {
		return st, err
	}
	if err := out.Flush(); err != nil {
		return st, err
	}
	for _, s := range streams {
		st.Rejected += s.rejected
	}
	st.Stats = d.Engine.Stats()
	fmt.Fprintf(errw, "scimwatch replay: %d events, %d alerts, %d records rejected", st.Events, st.Alerts, st.Rejected)
	if st.Late > 0 {
		fmt.Fprintf(errw, ", %d events more than %v out of order (evaluated as they came)", st.Late, cfg.Detect.AllowedLateness)
	}
	if st.Future > 0 {
		fmt.Fprintf(errw, ", %d events dated more than %v ahead of the clock", st.Future, cfg.Detect.MaxFutureSkew)
	}
	fmt.Fprintln(errw)
	if st.Rejected > 0 {
		return st, ErrRejected
	}
	return st, nil
}
