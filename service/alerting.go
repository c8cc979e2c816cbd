package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// notifying is alerting as run, detect and replay --notify run it: the
// notifier, its store, its integrations, one lifecycle; its endpoint
// (Slack's interactions) and readiness are registered with the server.
type notifying struct {
	n      *alerting.Notifier
	ch     *clickhouse.Store
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// OpenAlertStore returns alerting's store: ClickHouse (migrated) or
// memory (then the ClickHouse store is nil).
func OpenAlertStore(ctx context.Context, cfg *Config, logger *slog.Logger) (alerting.Store, *clickhouse.Store, error) {
	if cfg.Alerting.Store == "memory" {
		logger.Warn("alerting.store is memory: alerts, their history and silences are lost at exit")
		return alerting.NewMemoryStore(), nil, nil
	}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ch, err := openMigrated(mctx, cfg.ClickHouse, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("alerting.store: %w", err)
	}
	return alertstore.New(ch), ch, nil
}

// openMigrated opens ClickHouse and applies the migrations not yet
// applied (the commands that read or write it may be the first to run).
func openMigrated(ctx context.Context, cfg clickhouse.Config, logger *slog.Logger) (*clickhouse.Store, error) {
	store, err := clickhouse.Open(cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("clickhouse: applying migrations: %w", err)
	}
	return store, nil
}

// startNotifying starts alerting as configured, or returns nil when no
// integration is.
func startNotifying(ctx context.Context, cfg *Config, srv *Server, reg prometheus.Registerer, logger *slog.Logger) (*notifying, error) {
	ac := &cfg.Alerting
	if !ac.Enabled() {
		return nil, nil
	}
	var receivers []alerting.Receiver
	var sl *slack.Receiver
	if ac.SlackOn() {
		r, err := slack.New(ac.Slack, logger.With("integration", "slack"))
		if err != nil {
			return nil, err
		}
		sl = r
		receivers = append(receivers, r)
	}
	if ac.AlertmanagerOn() {
		r, err := alertmanager.New(ac.Alertmanager)
		if err != nil {
			return nil, err
		}
		receivers = append(receivers, r)
	}
	store, ch, err := OpenAlertStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	n, err := alerting.New(ac.Config, store, receivers, reg, logger.With("component", "alerting"), nil)
	if err != nil {
		ch.Close()
		return nil, err
	}
	if sl != nil {
		in, err := slack.NewInteractions(ac.Slack, n, store, reg, logger.With("component", "slack-interactions"))
		if err != nil {
			logger.Warn("Slack's buttons will not work: no signing secret to check them with", "err", err)
		} else if srv != nil {
			srv.Handle("/slack/interactions", in)
		}
	}
	if srv != nil {
		srv.Ready("alerting", func(context.Context) error {
			if !n.Ready() {
				return errors.New("loading its stored alerts and silences")
			}
			return nil
		})
	}
	nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &notifying{n: n, ch: ch, cancel: cancel}
	a.wg.Add(1)
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
	logger.Info("alerting on", "slack", ac.SlackOn(), "alertmanager", ac.AlertmanagerOn(), "store", ac.Store)
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
	a.wg.Wait()
	a.ch.Close()
}
