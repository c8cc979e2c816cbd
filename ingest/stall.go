package ingest

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stall tracks writes of the batch in flight that fail: since when, how
// many attempts, the last error. It logs when writes start failing and when
// they succeed again, not at every attempt, and tells readiness when the
// batch has not been written for too long. A failing write is retried for
// ever all the same: an outage loses nothing.
type stall struct {
	logger *slog.Logger
	gauge  prometheus.Gauge
	after  time.Duration
	now    func() time.Time

	mu       sync.Mutex
	since    time.Time
	attempts int
	what     string
	err      error
}

// failed records one failed attempt to write what.
func (s *stall) failed(what string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	s.what, s.err = what, err
	if s.since.IsZero() {
		s.since = s.now()
		s.gauge.Set(float64(s.since.Unix()))
		s.logger.Warn("writing failed; retrying with backoff until it succeeds", "what", what, "err", err)
		return
	}
	s.logger.Debug("writing failed again", "what", what, "attempts", s.attempts, "err", err)
}

// ok records that the batch was written and committed.
func (s *stall) ok() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.since.IsZero() {
		return
	}
	s.logger.Info("writing succeeds again", "failed_attempts", s.attempts, "for", s.now().Sub(s.since).Round(time.Millisecond), "last_err", s.err)
	s.since, s.attempts, s.err = time.Time{}, 0, nil
	s.gauge.Set(0)
}

// check is nil unless the batch has failed to be written for longer than
// after.
func (s *stall) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.since.IsZero() {
		return nil
	}
	if d := s.now().Sub(s.since); d > s.after {
		return fmt.Errorf("ingest: stuck for %s (since %s, %d attempts): %s: %w",
			d.Round(time.Second), s.since.UTC().Format(time.RFC3339), s.attempts, s.what, s.err)
	}
	return nil
}
