package main

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

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/alertmanager"
	"github.com/scimwatch/scimwatch/alerting/alertstore"
	"github.com/scimwatch/scimwatch/alerting/slack"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// notifying is alerting as detect and replay --notify run it: the
// notifier, its store, its integrations and its HTTP endpoints, one
// lifecycle.
type notifying struct {
	n      *alerting.Notifier
	ch     *clickhouse.Store
	srv    *http.Server
	addr   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// openStore returns alerting's store: ClickHouse (migrated) or memory.
func openStore(ctx context.Context, cfg *detectionConfig, logger *slog.Logger) (alerting.Store, *clickhouse.Store, error) {
	if cfg.Alerting.Store == "memory" {
		logger.Warn("alerting.store is memory: alerts, their history and silences are lost at exit")
		return alerting.NewMemoryStore(), nil, nil
	}
	ch, err := clickhouse.Open(cfg.ClickHouse, logger)
	if err != nil {
		return nil, nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := ch.Migrate(mctx); err != nil {
		ch.Close()
		return nil, nil, fmt.Errorf("clickhouse (alerting.store): %w", err)
	}
	return alertstore.New(ch), ch, nil
}

// startNotifying starts alerting as configured, or returns nil when no
// integration is.
func startNotifying(ctx context.Context, cfg *detectionConfig, reg *prometheus.Registry, logger *slog.Logger) (*notifying, error) {
	ac := &cfg.Alerting
	if !ac.enabled() {
		return nil, nil
	}
	var receivers []alerting.Receiver
	var sl *slack.Receiver
	if ac.slackOn() {
		r, err := slack.New(ac.Slack, logger.With("integration", "slack"))
		if err != nil {
			return nil, err
		}
		sl = r
		receivers = append(receivers, r)
	}
	if ac.alertmanagerOn() {
		r, err := alertmanager.New(ac.Alertmanager)
		if err != nil {
			return nil, err
		}
		receivers = append(receivers, r)
	}
	store, ch, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	n, err := alerting.New(ac.Config, store, receivers, reg, logger.With("component", "alerting"), nil)
	if err != nil {
		ch.Close()
		return nil, err
	}
	extra := map[string]http.Handler{}
	if sl != nil {
		in, err := slack.NewInteractions(ac.Slack, n, store, reg, logger.With("component", "slack-interactions"))
		if err != nil {
			logger.Warn("Slack's buttons will not work: no signing secret to check them with", "err", err)
		} else {
			extra["/slack/interactions"] = in
		}
	}
	ln, err := net.Listen("tcp", ac.HTTP.Listen)
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("alerting.http.listen: %w", err)
	}
	nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &notifying{n: n, ch: ch, cancel: cancel, addr: ln.Addr().String(),
		srv: &http.Server{Handler: n.Handler(reg, extra), ReadHeaderTimeout: 5 * time.Second}}
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("alerting http", "err", err)
		}
	}()
	go func() { defer a.wg.Done(); _ = n.Run(nctx) }()
	// The stored state loads before the first alert is taken (the engine
	// would hand alerts over again anyway, but replay starts at once).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.After(time.Minute); !n.Ready(); {
		select {
		case <-ctx.Done():
		case <-deadline:
		case <-tick.C:
			continue
		}
		break
	}
	logger.Info("alerting on", "slack", ac.slackOn(), "alertmanager", ac.alertmanagerOn(), "store", ac.Store, "http", a.addr)
	return a, nil
}

// sink returns what the engine hands alerts to: the notifier, then out
// (printing) once the notifier accepted the alert, so that an alert the
// engine hands over again is printed once.
func (a *notifying) sink(out detect.Sink) detect.Sink {
	if a == nil {
		return out
	}
	return detect.SinkFunc(func(al detect.Alert) error {
		if err := a.n.Alert(al); err != nil {
			return err
		}
		return out.Alert(al)
	})
}

// stop waits up to grace for the notifications due to be delivered, then
// stops everything.
func (a *notifying) stop(grace time.Duration) {
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	a.n.Drain(ctx)
	a.cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = a.srv.Shutdown(sctx)
	a.wg.Wait()
	a.ch.Close()
}
