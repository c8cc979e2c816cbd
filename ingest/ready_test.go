package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// ready is the ingester's readiness as /readyz reports it: "" when ready.
func ready(in *Ingester, store *clickhouse.Store) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.Ready(ctx, store); err != nil {
		return err.Error()
	}
	return ""
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
	if why := ready(in, h.store); why != "" {
		t.Errorf("not ready: %s", why)
	}

	// A store whose migrations were not applied, then one that does not answer.
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs = []string{testenv.ClickHouse(t)}
	fresh, _ := clickhouse.Open(cfg, nil)
	defer fresh.Close()
	if why := ready(in, fresh); !strings.Contains(why, "migrations not applied") {
		t.Errorf("readiness without migrations: %q", why)
	}
	cfg.Addrs = []string{"127.0.0.1:1"}
	down, _ := clickhouse.Open(cfg, nil)
	defer down.Close()
	if why := ready(in, down); !strings.Contains(why, "clickhouse:") {
		t.Errorf("readiness with ClickHouse down: %q", why)
	}

	cfgK := h.config()
	cfgK.Kafka.Brokers = []string{"127.0.0.1:1"}
	inK, _ := New(cfgK, h.store, prometheus.NewRegistry(), nil)
	if why := ready(inK, h.store); !strings.Contains(why, "kafka:") {
		t.Errorf("readiness with Kafka down: %q", why)
	}
}
