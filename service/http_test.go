package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestServerReadiness: one server, one readiness model: /readyz is 200
// only when every registered component is ready, and names each one that
// is not, with its reason; a check that hangs is not ready, and does not
// hang the probe.
func TestServerReadiness(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "scimwatch_test_total", Help: "t"})
	reg.MustRegister(c)
	srv := NewServer(reg)
	if code, body := get(t, srv.Handler(), "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("nothing registered: %d %q", code, body)
	}
	var ingestErr error
	srv.Ready("ingest", func(context.Context) error { return ingestErr })
	srv.Ready("detector", func(context.Context) error { return errors.New("not in its consumer group yet") })
	srv.Ready("alerting", func(context.Context) error { return nil })
	srv.Handle("/slack/interactions", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) }))

	ingestErr = errors.New("ingest: clickhouse: connection refused")
	code, body := get(t, srv.Handler(), "/readyz")
	if code != 503 || !strings.Contains(body, "ingest: clickhouse: connection refused") || !strings.Contains(body, "detector: not in its consumer group yet") ||
		strings.Contains(body, "alerting") || strings.Contains(body, "ingest: ingest:") {
		t.Errorf("two components not ready: %d %q", code, body)
	}
	if code, body := get(t, srv.Handler(), "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz %d %q", code, body)
	}
	if code, body := get(t, srv.Handler(), "/metrics"); code != 200 || !strings.Contains(body, "scimwatch_test_total") {
		t.Errorf("metrics %d lacks the registry's", code)
	}
	if code, _ := get(t, srv.Handler(), "/slack/interactions"); code != 401 {
		t.Errorf("a component's endpoint: %d", code)
	}

	hung := NewServer(reg)
	hung.Ready("ingest", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	start := time.Now()
	if code, body := get(t, hung.Handler(), "/readyz"); code != 503 || !strings.Contains(body, "ingest: context deadline exceeded") {
		t.Errorf("a hanging check: %d %q", code, body)
	}
	if d := time.Since(start); d > ReadyTimeout+5*time.Second {
		t.Errorf("the probe took %v", d)
	}
}

// TestServerServes: the server listens, answers, and stops with its
// context.
func TestServerServes(t *testing.T) {
	srv := NewServer(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	addr, wait, err := srv.Serve(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	if _, _, err := NewServer(prometheus.NewRegistry()).Serve(ctx, addr, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("a second server on the same address: %v", err)
	}
	cancel()
	wait()
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after its context ended")
	}
}
