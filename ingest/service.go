package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Service is `scimwatch ingest`: the Ingester with everything around it.
// It applies ClickHouse migrations (retrying until ClickHouse answers),
// serves /metrics, /healthz and /readyz, drops partitions past retention
// hourly, and shuts down in order when its context ends. Config.Kafka.Brokers
// must name at least one broker: the command starts the embedded one.
type Service struct {
	Config   Config
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Ready, when set, is called once the service consumes, with the
	// brokers it uses and the HTTP address it listens on.
	Ready func(brokers []string, httpAddr string)
	// OnInsert is passed to the Ingester.
	OnInsert func(rows []clickhouse.Row, acked time.Time)
	// Readiness are the readiness checks of the other components of the
	// process (scimwatch run), part of /readyz.
	Readiness []func(context.Context) error
}

// Run runs the service until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	cfg, logger := s.Config, s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if s.Registry == nil {
		s.Registry = prometheus.NewRegistry()
	}
	store, err := clickhouse.Open(cfg.ClickHouse, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	in, err := New(cfg, store, s.Registry, logger)
	if err != nil {
		return err
	}
	in.OnInsert = s.OnInsert

	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	srv := &http.Server{Handler: in.Handler(s.Registry, store, s.Readiness...), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server", "err", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		wg.Wait()
	}()
	logger.Info("serving metrics and health", "addr", ln.Addr().String())

	bo := in.backoff()
	for {
		err := store.Migrate(ctx)
		if err == nil {
			break
		}
		logger.Warn("applying ClickHouse migrations; will retry", "err", err)
		if !bo.Wait(ctx) {
			return nil
		}
	}

	wg.Add(1)
	go func() { defer wg.Done(); retentionLoop(ctx, store, logger) }()
	if cfg.ClickHouse.RollupInterval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); rollupLoop(ctx, store, cfg.ClickHouse.RollupInterval, logger) }()
	}

	if s.Ready != nil {
		s.Ready(cfg.Kafka.Brokers, ln.Addr().String())
	}
	return in.Run(ctx)
}

// retentionLoop drops day partitions past retention now and every hour.
func retentionLoop(ctx context.Context, store *clickhouse.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		dropped, err := store.ApplyRetention(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			logger.Warn("retention", "err", err)
		} else if len(dropped) > 0 {
			logger.Info("retention dropped partitions", "partitions", dropped)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// rollupLoop brings the dashboards' roll-ups up to date now and every
// interval. Several instances may run it at once (see migration 0006).
func rollupLoop(ctx context.Context, store *clickhouse.Store, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		start := time.Now()
		st, err := store.Rollup(ctx, start)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("dashboard roll-ups; will retry", "err", err)
		case len(st.Rolled)+len(st.Dropped) > 0:
			logger.Info("dashboard roll-ups", "rolled", st.Rolled, "dropped", st.Dropped, "current", st.Current, "took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
