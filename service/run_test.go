package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/ingest"
)

// TestIngestOnlyOnRunsFile: scimwatch ingest takes run's file and runs
// ingest alone: the detection sections' requirements (rules) do not apply,
// where run refuses the same file without rules.
func TestIngestOnlyOnRunsFile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: "audit", Source: "auto", Tenant: "acme"}}
	cfg.ClickHouse.Addrs, cfg.ClickHouse.DialTimeout = []string{"127.0.0.1:1"}, 100*time.Millisecond
	cfg.HTTP.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, "", cfg, RunOptions{}); err == nil || !strings.Contains(err.Error(), "rules: at least one rules directory") {
		t.Errorf("run without rules: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, "", cfg, RunOptions{IngestOnly: true}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ingest alone on the same file: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ingest did not stop with its context")
	}
}
