package ingest

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestStall: an outage logs once when writes start failing and once when
// they succeed again (not once per attempt), and readiness fails only past
// stuck_after.
func TestStall(t *testing.T) {
	var logs bytes.Buffer
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"})
	s := &stall{logger: slog.New(slog.NewTextHandler(&logs, nil)), gauge: g, after: time.Minute, now: func() time.Time { return now }}
	if s.check() != nil {
		t.Fatal("not stuck before any failure")
	}
	down := errors.New("dial tcp 127.0.0.1:9000: connection refused")
	for range 100 {
		s.failed("inserting 500 rows", down)
		now = now.Add(time.Second)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Errorf("%d log lines for 100 failed attempts, want 1:\n%s", n, logs.String())
	}
	if got := testutil.ToFloat64(g); got != float64(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("stuck_since_seconds %v", got)
	}
	err := s.check()
	if err == nil || !strings.Contains(err.Error(), "stuck for 1m40s") || !strings.Contains(err.Error(), "100 attempts") || !errors.Is(err, down) {
		t.Errorf("readiness: %v", err)
	}
	s.ok()
	if s.check() != nil || testutil.ToFloat64(g) != 0 {
		t.Error("still stuck after a write succeeded")
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 || !strings.Contains(logs.String(), "failed_attempts=100") {
		t.Errorf("recovery not logged once with the count:\n%s", logs.String())
	}
	s.failed("inserting 500 rows", down)
	if s.check() != nil {
		t.Error("stuck at once after a new first failure; want only past stuck_after")
	}
}
