package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/scimgateway"
	"github.com/scimwatch/scimwatch/ingest/source"
)

func (c *Config) validateGateway() []error {
	g := c.ScimGateway
	if g == nil {
		return []error{errors.New("scim_gateway: required")}
	}
	g.Defaults()
	errs := g.Validate("scim_gateway")
	if len(c.Kafka.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: required (the gateway's records go there)"))
	}
	for _, t := range c.Kafka.Topics {
		if t.Name == g.Topic && t.Source != event.SourceSCIM && t.Source != source.SourceAuto && t.Source != "" {
			errs = append(errs, fmt.Errorf("scim_gateway.topic: %s is read as source %s, not scim", g.Topic, t.Source))
		}
	}
	return errs
}

// RunGateway runs scimwatch scim-gateway until ctx ends: the proxy on
// scim_gateway.listen, /metrics and /readyz on http.listen.
func RunGateway(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := cfg.Validate(UsesGateway); err != nil {
		return err
	}
	if err := cfg.Kafka.Client.Resolve(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g, err := scimgateway.New(*cfg.ScimGateway, cfg.Kafka.Client, reg, logger)
	if err != nil {
		return err
	}
	srv := NewServer(reg)
	srv.Ready("kafka", func(ctx context.Context) error { return cfg.Kafka.Client.Reachable(ctx) })
	srv.Ready("scim-gateway", g.Ready)
	addr, wait, err := g.Serve(ctx)
	if err != nil {
		return err
	}
	logger.Info("scim gateway listening", "addr", addr, "upstream", cfg.ScimGateway.Upstream, "rules", len(cfg.ScimGateway.Rules))
	haddr, hwait, err := srv.Serve(ctx, cfg.HTTP.Listen, logger)
	if err != nil {
		wait()
		return err
	}
	logger.Info("serving metrics and health", "addr", haddr)
	<-ctx.Done()
	hwait()
	wait()
	return nil
}
