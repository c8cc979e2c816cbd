package clickhouse

import (
	"context"
	"log/slog"
	"time"
)

// Maintain keeps the events tables in shape until ctx ends: retention
// hourly (partitions past their tenant's retention dropped) and, when
// rollupEvery is positive, the dashboards' roll-ups. Several instances
// may run it at once.
func (s *Store) Maintain(ctx context.Context, rollupEvery time.Duration, logger *slog.Logger) {
	if rollupEvery <= 0 {
		retentionLoop(ctx, s, logger)
		return
	}
	done := make(chan struct{})
	go func() { defer close(done); rollupLoop(ctx, s, rollupEvery, logger) }()
	retentionLoop(ctx, s, logger)
	<-done
}

// retentionLoop drops day partitions past retention now and every hour.
func retentionLoop(ctx context.Context, store *Store, logger *slog.Logger) {
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
func rollupLoop(ctx context.Context, store *Store, every time.Duration, logger *slog.Logger) {
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
