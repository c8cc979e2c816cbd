package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/alertstore"
	"github.com/scimwatch/scimwatch/alerting/slack"
	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func Alerting(ctx context.Context, c IO, count, rate int, storeKind, chAddr string) error {
	ws := fakeslack.Start()
	defer ws.Stop()
	var mu sync.Mutex
	started := make(map[string]time.Time, count)
	var latencies []time.Duration
	ws.OnCall = func(call fakeslack.Call) {
		if call.Method != "chat.postMessage" {
			return
		}
		_, id, ok := strings.Cut(call.Text, "Bench ")
		mu.Lock()
		defer mu.Unlock()
		if t, found := started[id]; ok && found {
			latencies = append(latencies, call.At.Sub(t))
		}
	}

	var store alerting.Store = alerting.NewMemoryStore()
	if storeKind == "clickhouse" {
		if err := clickhouse.Reachable(ctx, chAddr); err != nil {
			return fmt.Errorf("%w\nstart it with ./.ci/services.sh start, or run with --store memory", err)
		}
		cfg := clickhouse.DefaultConfig()
		cfg.Addrs = []string{chAddr}
		cfg.Database = fmt.Sprintf("scimwatch_bench_alerting_%d", time.Now().UnixNano())
		ch, err := clickhouse.Open(cfg, nil)
		if err != nil {
			return err
		}
		defer ch.Close()
		defer clickhouse.DropDatabase(cfg)
		if err := ch.Migrate(ctx); err != nil {
			return err
		}
		store = alertstore.New(ch)
	} else if storeKind != "memory" {
		return fmt.Errorf("--store: %q is not clickhouse or memory", storeKind)
	}

	os.Setenv("SCIMWATCH_BENCH_SLACK_TOKEN", "xoxb-bench")
	scfg := slack.DefaultConfig()
	scfg.APIURL, scfg.TokenEnv, scfg.Channel = ws.URL(), "SCIMWATCH_BENCH_SLACK_TOKEN", "#bench"
	recv, err := slack.New(scfg, nil)
	if err != nil {
		return err
	}
	acfg := alerting.DefaultConfig()
	acfg.GroupBy, acfg.GroupWait, acfg.GroupInterval = []string{"key"}, 0, 0
	reg := prometheus.NewRegistry()
	n, err := alerting.New(acfg, store, []alerting.Receiver{recv}, reg, nil, nil)
	if err != nil {
		return err
	}
	nctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(nctx) }()
	defer func() { stop(); <-done }()
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}

	dir, err := os.MkdirTemp("", "scimwatch-bench-rules")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rule := "rules:\n  - id: bench\n    title: 'Bench {{.Event.ID}}'\n    severity: high\n    when: action == \"role.grant\"\n"
	if err := os.WriteFile(filepath.Join(dir, "bench.yaml"), []byte(rule), 0o600); err != nil {
		return err
	}
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		return err
	}
	dcfg := detect.DefaultConfig()
	eng, err := detect.New(dcfg, set, n, reg, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%d events at %d/s, each an alert, through the engine and the notifier (store: %s) to Slack over HTTP\n", count, rate, storeKind)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	begin := time.Now()
	for i := 0; i < count; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		id := fmt.Sprintf("bench-%d", i)
		ev := &event.Event{ID: id, Time: time.Now().UTC(), Tenant: "bench", Source: event.SourceOkta, Action: event.ActionRoleGrant,
			Outcome: event.OutcomeSuccess, Actor: event.Actor{ID: "a" + id, Email: id + "@bench.test"}}
		mu.Lock()
		started[id] = time.Now()
		mu.Unlock()
		if err := eng.Process(ev); err != nil {
			return err
		}
	}
	deadline := time.After(time.Minute)
	for {
		mu.Lock()
		got := len(latencies)
		mu.Unlock()
		if got >= count {
			break
		}
		select {
		case <-deadline:
			return fmt.Errorf("only %d of %d alerts posted within a minute", got, count)
		case <-time.After(10 * time.Millisecond):
		}
	}
	wall := time.Since(begin)
	mu.Lock()
	lat := slices.Clone(latencies)
	mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(c.Stdout, "latency, event read to chat.postMessage, %d alerts: p50 %v, p99 %v, max %v (%.0f alerts/s over %.1f s)\n",
		len(lat), q(0.50).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond),
		float64(len(lat))/wall.Seconds(), wall.Seconds())
	return nil
}
