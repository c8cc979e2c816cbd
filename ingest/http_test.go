package ingest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestReadiness: ready only when Kafka and ClickHouse answer and the
// migrations are applied.
func TestReadiness(t *testing.T) {
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	reg := prometheus.NewRegistry()
	in, err := New(h.config(), h.store, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	handler := in.Handler(reg, h.store)
	if code, body := get(t, handler, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz %d %q", code, body)
	}
	if code, body := get(t, handler, "/readyz"); code != 200 {
		t.Errorf("readyz %d %q, want ready", code, body)
	}
	if code, body := get(t, handler, "/metrics"); code != 200 || !strings.Contains(body, "scimwatch_ingest_") {
		t.Errorf("metrics %d lacks scimwatch_ingest_", code)
	}

	// A store whose migrations were not applied, then one that does not answer.
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs = []string{testenv.ClickHouse(t)}
	fresh, _ := clickhouse.Open(cfg, nil)
	defer fresh.Close()
	if code, body := get(t, in.Handler(reg, fresh), "/readyz"); code != 503 || !strings.Contains(body, "migrations not applied") {
		t.Errorf("readyz without migrations: %d %q", code, body)
	}
	cfg.Addrs = []string{"127.0.0.1:1"}
	down, _ := clickhouse.Open(cfg, nil)
	defer down.Close()
	if code, body := get(t, in.Handler(reg, down), "/readyz"); code != 503 || !strings.Contains(body, "clickhouse:") {
		t.Errorf("readyz with ClickHouse down: %d %q", code, body)
	}

	cfgK := h.config()
	cfgK.Kafka.Brokers = []string{"127.0.0.1:1"}
	inK, _ := New(cfgK, h.store, prometheus.NewRegistry(), nil)
	if code, body := get(t, inK.Handler(reg, h.store), "/readyz"); code != 503 || !strings.Contains(body, "kafka:") {
		t.Errorf("readyz with Kafka down: %d %q", code, body)
	}
}
