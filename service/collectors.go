package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/ingest/collect/graph"
	"github.com/scimwatch/scimwatch/ingest/collect/okta"
	"github.com/scimwatch/scimwatch/ingest/collect/workspace"
	"github.com/scimwatch/scimwatch/ingest/source"
)

// CollectorsConfig is the collectors: section: one entry per tenant and
// vendor, and where their cursors are kept.
type CollectorsConfig struct {
	// StateTopic is the compacted Kafka topic of the cursors.
	StateTopic string `yaml:"state_topic"`
	// StaleAfter is how long a collector may fail (the vendor down,
	// throttling, timeouts) before /readyz says so; a refused credential
	// or right says so at once.
	StaleAfter time.Duration `yaml:"stale_after"`
	// MaxRemembered bounds the record ids each stream remembers, to skip
	// what an overlap window fetches again.
	MaxRemembered int `yaml:"max_remembered"`

	Okta      []okta.Config      `yaml:"okta"`
	OktaHooks []okta.HookConfig  `yaml:"okta_hooks"`
	Graph     []graph.Config     `yaml:"graph"`
	Workspace []workspace.Config `yaml:"workspace"`
}

// Any reports whether any collector is configured.
func (c *CollectorsConfig) Any() bool {
	return len(c.Okta)+len(c.OktaHooks)+len(c.Graph)+len(c.Workspace) > 0
}

// defaults fills what entries leave unset (after decoding: a list's
// entries have no defaults before).
func (c *CollectorsConfig) defaults() {
	if c.StateTopic == "" {
		c.StateTopic = "scimwatch-collector-state"
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 5 * time.Minute
	}
	if c.MaxRemembered == 0 {
		c.MaxRemembered = 200000
	}
	for i := range c.Okta {
		c.Okta[i].Defaults()
	}
	for i := range c.OktaHooks {
		c.OktaHooks[i].Defaults()
	}
	for i := range c.Graph {
		c.Graph[i].Defaults()
	}
	for i := range c.Workspace {
		c.Workspace[i].Defaults()
	}
}

// validate reports every problem; topics are kafka.topics, which each
// collector's topic must be one of, of its source (or auto) and tenant.
func (c *CollectorsConfig) validate(cfg *Config) []error {
	var errs []error
	if c.StateTopic == "" {
		errs = append(errs, errors.New("collectors.state_topic: required"))
	}
	if c.StaleAfter <= 0 || c.MaxRemembered <= 0 {
		errs = append(errs, errors.New("collectors: stale_after and max_remembered must be positive"))
	}
	names := map[string]string{}
	// carries: the vendor's records name their tenant (Workspace's
	// customerId); Okta's and Graph's do not, so their topic must.
	check := func(p, name, tenant, topic, src string, carries bool) {
		if prev, ok := names[name]; ok && name != "" {
			errs = append(errs, fmt.Errorf("%s.name: %q is also %s's: names key the cursors", p, name, prev))
		}
		names[name] = p
		if topic == c.StateTopic && topic != "" {
			errs = append(errs, fmt.Errorf("%s.topic: is the state_topic", p))
		}
		if len(cfg.Kafka.Topics) == 0 || topic == "" {
			return
		}
		for _, t := range cfg.Kafka.Topics {
			if t.Name != topic {
				continue
			}
			if t.Source != src && t.Source != source.SourceAuto && t.Source != "" {
				errs = append(errs, fmt.Errorf("%s.topic: %s is read as source %s, not %s", p, topic, t.Source, src))
			}
			if t.Tenant != "" && t.Tenant != tenant {
				errs = append(errs, fmt.Errorf("%s.tenant: %q, but topic %s is tenant %q's", p, tenant, topic, t.Tenant))
			}
			if t.Tenant == "" && !carries {
				errs = append(errs, fmt.Errorf("%s.topic: %s names no tenant, and %s's records carry none: give the topic tenant: %s", p, topic, src, tenant))
			}
			return
		}
		errs = append(errs, fmt.Errorf("%s.topic: %s is not one of kafka.topics: nothing would read what it collects", p, topic))
	}
	for i := range c.Okta {
		p := fmt.Sprintf("collectors.okta[%d]", i)
		errs = append(errs, c.Okta[i].Validate(p)...)
		check(p, c.Okta[i].Name, c.Okta[i].Tenant, c.Okta[i].Topic, event.SourceOkta, false)
	}
	for i := range c.OktaHooks {
		p := fmt.Sprintf("collectors.okta_hooks[%d]", i)
		errs = append(errs, c.OktaHooks[i].Validate(p)...)
		check(p, c.OktaHooks[i].Name, c.OktaHooks[i].Tenant, c.OktaHooks[i].Topic, event.SourceOkta, false)
	}
	for i := range c.Graph {
		p := fmt.Sprintf("collectors.graph[%d]", i)
		errs = append(errs, c.Graph[i].Validate(p)...)
		check(p, c.Graph[i].Name, c.Graph[i].Tenant, c.Graph[i].Topic, event.SourceEntra, false)
	}
	for i := range c.Workspace {
		p := fmt.Sprintf("collectors.workspace[%d]", i)
		errs = append(errs, c.Workspace[i].Validate(p)...)
		check(p, c.Workspace[i].Name, c.Workspace[i].Tenant, c.Workspace[i].Topic, event.SourceGWorkspace, true)
	}
	return errs
}

// startCollectors starts the configured collectors and Event Hooks
// endpoints; the returned stop waits for them after ctx ended. Secrets
// and keys are read now: one missing fails the start.
func startCollectors(ctx context.Context, cfg *Config, srv *Server, reg prometheus.Registerer, logger *slog.Logger) (func(), error) {
	cc := &cfg.Collectors
	m := collect.NewMetrics(reg)
	var cols []*collect.Collector
	var errs []error
	add := func(c *collect.Collector, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		cols = append(cols, c)
	}
	for _, c := range cc.Okta {
		add(okta.New(c, m))
	}
	for _, c := range cc.Graph {
		add(graph.New(c, m))
	}
	for _, c := range cc.Workspace {
		add(workspace.New(c, m))
	}
	var hooks []*okta.Hook
	for _, c := range cc.OktaHooks {
		h, col, err := okta.NewHook(c, reg, logger)
		add(col, err)
		if err == nil {
			hooks = append(hooks, h)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	runner := collect.NewRunner(collect.Config{Client: cfg.Kafka.Client, StateTopic: cc.StateTopic, MaxRemembered: cc.MaxRemembered,
		StaleAfter: cc.StaleAfter}, cols, m, logger)
	var waits []func()
	for _, h := range hooks {
		addr, wait, err := h.Serve(ctx, runner)
		if err != nil {
			for _, w := range waits {
				w()
			}
			return nil, err
		}
		logger.Info("okta event hook endpoint listening", "addr", addr)
		waits = append(waits, wait)
	}
	var started atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := runner.Start(ctx); err != nil {
			return // ctx ended before the cursors could be read
		}
		started.Store(true)
		logger.Info("collectors started", "collectors", len(cols))
	}()
	srv.Ready("collectors", func(ctx context.Context) error {
		if !started.Load() {
			return fmt.Errorf("reading the cursors from %s", cc.StateTopic)
		}
		return runner.Ready(ctx)
	})
	return func() {
		wg.Wait()
		runner.Wait()
		for _, w := range waits {
			w()
		}
	}, nil
}
