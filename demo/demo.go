// Package demo is scimwatch's demonstrations and simulated traffic:
// scimwatch demo (the whole job on this machine), simulate (history and
// live traffic with attacks, to ClickHouse, Kafka or files) and ingest
// --generate. The simulator itself is demo/synth.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/alerting/slack/slackview"
	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/kafka/embedded"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/service"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

type demo struct {
	out, errw io.Writer
	mu        sync.Mutex
	byRule    map[string]int
	alerts    int
	injected  int
}

var demoTenants = map[string]string{"acme": "America/New_York", "globex": "Europe/Berlin", "initech": "Asia/Tokyo", "umbrella": "Europe/London"}

// Run shows the whole job working on this machine (scimwatch demo):
// history back-filled into ClickHouse at chAddr, then scimwatch run on an
// embedded broker with live simulated traffic and attacks, each alert
// shown on out as it fires.
//
// With collectors, the identity providers' live records go into fake
// vendors' logs (internal/vendorfake, over HTTPS) instead of straight to
// Kafka, and scimwatch run's collectors fetch them from there.
func Run(ctx context.Context, out, errw io.Writer, chAddr, database string, days, users, rate int, every, duration time.Duration, listen, previewAddr string, seed uint64, collectors bool) error {
	d := &demo{out: out, errw: errw, byRule: map[string]int{}}
	if err := clickhouse.Reachable(ctx, chAddr); err != nil {
		return fmt.Errorf("%w\nthe demo needs ClickHouse on 127.0.0.1: ./.ci/clickhouse.sh start (installs and starts it)", err)
	}
	if _, err := os.Stat("rules/builtin"); err != nil {
		return fmt.Errorf("run the demo from the repository's root (it reads rules/builtin): %w", err)
	}
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	chCfg := clickhouse.DefaultConfig()
	chCfg.Addrs, chCfg.Database, chCfg.Compression = []string{chAddr}, database, "none"
	clickhouse.DropDatabase(chCfg)

	ek, err := embedded.Start()
	if err != nil {
		return err
	}
	defer ek.Close()
	brokers := ek.Brokers()
	tenants := slices.Sorted(maps.Keys(demoTenants))
	if err := createTopics(ctx, brokers[0], tenants); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "scimwatch demo: four tenants (acme: Okta, New York; globex: Okta, Berlin; initech: Entra ID, Tokyo; umbrella: Google Workspace, London), %d users each\n", users)

	// 1. History, into ClickHouse, so that the rules that learn know what is normal.
	sim := &Simulation{Stdout: d.out, Stderr: d.errw}
	hcfg := synth.HistoryConfig{Tenants: synth.DefaultHistoryTenants(users, 5), End: time.Now().UTC(), Days: days, Seed: seed, Plant: true}
	fmt.Fprintf(d.out, "\n1. back-filling %d days of history into ClickHouse (%s) through scimwatch import...\n", days, database)
	if err := sim.Backfill(ctx, hcfg, true, "", &chCfg); err != nil {
		return err
	}

	// 2. The service.
	slackDesc, stopSlack, err := d.slack(&previewAddr)
	if err != nil {
		return err
	}
	defer stopSlack()
	cfg := service.DefaultConfig()
	cfg.Kafka.Brokers, cfg.Kafka.Group = brokers, "scimwatch-demo"
	for _, t := range tenants {
		cfg.Kafka.Topics = append(cfg.Kafka.Topics, ingest.TopicConfig{Name: "idp-" + t, Source: "auto", Tenant: t})
	}
	cfg.ClickHouse = chCfg
	cfg.HTTP.Listen = listen
	cfg.Batch.MaxWait = 500 * time.Millisecond
	cfg.Rules = []string{"rules/builtin"}
	cal := rules.DefaultCalendar()
	cal.Tenants = map[string]rules.Hours{}
	for t, tz := range demoTenants {
		cal.Tenants[t] = rules.Hours{Timezone: tz}
	}
	cfg.Calendar = &cal
	cfg.Detect.AllowedLateness = 5 * time.Second
	cfg.History.Checkpoint = "demo"
	cfg.Alerting.GroupBy = []string{"rule", "tenant", "key"}
	cfg.Alerting.GroupWait, cfg.Alerting.GroupInterval = 0, 0
	slackCfg(&cfg)
	var sink Sink = NewKafkaSink(kafka.Client{Brokers: brokers}, "idp-")
	defer sink.Close()
	var vendors *vendorSink
	if collectors {
		dir, err := os.MkdirTemp("", "scimwatch-demo-vendors-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		sources := map[string]string{}
		for _, ht := range hcfg.Tenants {
			sources[ht.Name] = ht.Source
		}
		if vendors, err = startVendors(dir, sources, &cfg, sink); err != nil {
			return err
		}
		defer vendors.Close()
	}
	readyCh := make(chan struct{})
	opts := service.RunOptions{Registry: prometheus.NewRegistry(), OnAlert: d.alert, OnReady: func() { close(readyCh) }, Watch: time.Hour}
	logger := slog.New(slog.NewTextHandler(d.errw, &slog.HandlerOptions{Level: slog.LevelError}))
	rctx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	runDone := make(chan error, 1)
	opts.Logger = logger
	go func() { runDone <- service.Run(rctx, "", cfg, opts) }()
	fmt.Fprintf(d.out, "\n2. scimwatch run: ingest, detection with the built-in rules, history rules, alerting\n")
	fmt.Fprintf(d.out, "   metrics         http://%s/metrics   (and /readyz)\n", listen)
	fmt.Fprintf(d.out, "   alerts          %s\n", slackDesc)
	fmt.Fprintf(d.out, "   dashboards      dashboards/grafana/*.json for Grafana (provisioning: dashboards/provisioning), on ClickHouse database %s\n", database)
	if vendors != nil {
		fmt.Fprintf(d.out, "   collectors      fetching the identity providers' live records from fake vendors over HTTPS (SCIM logs go to Kafka):\n%s", vendors.describe())
	}
	fmt.Fprintf(d.out, "   the events      clickhouse-client --port %s -q 'SELECT tenant, action, count() FROM %s.events_unique GROUP BY tenant, action'\n",
		chAddr[strings.LastIndexByte(chAddr, ':')+1:], database)

	// 3. Live traffic with attacks, once the service is ready: the rules
	// that learn have learned the history.
	fmt.Fprintf(d.out, "\n3. live traffic, %d records/s per tenant, an attack every %s (Ctrl-C stops)\n\n", rate, every)
	select {
	case <-readyCh:
	case err := <-runDone:
		return fmt.Errorf("scimwatch run stopped: %v", err)
	case <-ctx.Done():
		return nil
	}
	if vendors != nil {
		sink = vendors
	}
	sim.Stdout = io.Discard
	sim.OnInject = func(p synth.Plant) {
		d.mu.Lock()
		d.injected++
		d.mu.Unlock()
		fmt.Fprintf(d.out, "  >> attack injected: %-26s tenant %-8s by %s\n", p.Rule, p.Tenant, or(p.Actor, p.Key))
	}
	liveDone := make(chan error, 1)
	go func() { liveDone <- sim.Live(ctx, sink, rate, 0, every, synth.Scenarios) }()
	d.view(ctx, opts.Registry)
	err = <-liveDone
	stopRun()
	if rerr := <-runDone; err == nil || ctx.Err() != nil {
		err = rerr
	}
	d.summary()
	if vendors != nil {
		fmt.Fprintf(d.out, "collected %.0f records from the fake vendors (%.0f pages; %.0f requests refused or failed, retried)\n",
			metricSum(opts.Registry, "scimwatch_collector_records_total"), metricSum(opts.Registry, "scimwatch_collector_pages_total"),
			metricSum(opts.Registry, "scimwatch_collector_api_errors_total"))
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// alert prints an alert as it fires and counts it.
func (d *demo) alert(a detect.Alert) {
	if a.Status != detect.StatusFiring {
		return
	}
	d.mu.Lock()
	first := d.byRule[a.Rule+"\x00"+a.ID] == 0
	d.byRule[a.Rule+"\x00"+a.ID]++
	if first {
		d.alerts++
	}
	d.mu.Unlock()
	if first {
		fmt.Fprintf(d.out, "  !! %-8s %-26s %-8s %s\n", strings.ToUpper(a.Severity), a.Rule, a.Tenant, a.Title)
	}
}

// view prints a status line every 5 seconds until ctx ends.
func (d *demo) view(ctx context.Context, reg *prometheus.Registry) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var last float64
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ingested, lag := metricSum(reg, "scimwatch_ingest_events_inserted_total"), metricSum(reg, "scimwatch_detector_consumer_lag")
			rate := (ingested - last) / now.Sub(lastAt).Seconds()
			last, lastAt = ingested, now
			d.mu.Lock()
			alerts, injected := d.alerts, d.injected
			d.mu.Unlock()
			fmt.Fprintf(d.out, "  -- %s  ingested %.0f events (%.0f/s)  detector lag %.0f  attacks %d  alerts %d\n",
				now.Format("15:04:05"), ingested, rate, lag, injected, alerts)
		}
	}
}

// summary prints the alerts by rule.
func (d *demo) summary() {
	d.mu.Lock()
	defer d.mu.Unlock()
	byRule := map[string]int{}
	for k := range d.byRule {
		rule, _, _ := strings.Cut(k, "\x00")
		byRule[rule]++
	}
	fmt.Fprintf(d.out, "\nstopped: %d attacks injected, %d alerts\n", d.injected, d.alerts)
	for _, r := range slices.Sorted(maps.Keys(byRule)) {
		fmt.Fprintf(d.out, "  %-28s %d\n", r, byRule[r])
	}
}

// metricSum is the sum of a metric's series in reg.
func metricSum(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

// demoSlack is where the demo's alerts go: real Slack when configured,
// else a stand-in served over HTTP on 127.0.0.1 (slack-go's slacktest).
var demoSlack struct {
	url, channel, tokenEnv string
}

// slack sets up where alerts go and returns what to tell the user.
func (d *demo) slack(previewAddr *string) (string, func(), error) {
	if os.Getenv("SLACK_BOT_TOKEN") != "" && os.Getenv("SCIMWATCH_DEMO_CHANNEL") != "" {
		demoSlack.url, demoSlack.channel, demoSlack.tokenEnv = "", os.Getenv("SCIMWATCH_DEMO_CHANNEL"), "SLACK_BOT_TOKEN"
		return "Slack, channel " + demoSlack.channel, func() {}, nil
	}
	ws := fakeslack.Start()
	os.Setenv("SCIMWATCH_DEMO_SLACK_TOKEN", "xoxb-demo")
	demoSlack.url, demoSlack.channel, demoSlack.tokenEnv = ws.URL(), "#soc-identity", "SCIMWATCH_DEMO_SLACK_TOKEN"
	ln, err := net.Listen("tcp", *previewAddr)
	if err != nil {
		ws.Stop()
		return "", nil, fmt.Errorf("--preview: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var msgs []slackview.Message
		for _, m := range slices.Backward(ws.Messages("")) { // newest first
			msgs = append(msgs, slackview.Message{Blocks: m.Blocks, Time: m.Channel})
		}
		page, err := slackview.Page(msgs)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	})}
	go func() { _ = srv.Serve(ln) }()
	return fmt.Sprintf("a Slack stand-in (set SLACK_BOT_TOKEN and SCIMWATCH_DEMO_CHANNEL for real Slack); "+
			"the messages, as Slack shows them: http://%s/", ln.Addr()), func() {
			_ = srv.Close()
			ws.Stop()
		}, nil
}

func slackCfg(cfg *service.Config) {
	cfg.Alerting.Store = "clickhouse"
	if demoSlack.url != "" {
		cfg.Alerting.Slack.APIURL = demoSlack.url
	}
	cfg.Alerting.Slack.TokenEnv, cfg.Alerting.Slack.Channel = demoSlack.tokenEnv, demoSlack.channel
}

// createTopics creates the tenants' topics on the embedded broker.
func createTopics(ctx context.Context, broker string, tenants []string) error {
	topics := make([]string, 0, len(tenants))
	for _, t := range tenants {
		topics = append(topics, "idp-"+t)
	}
	return kafka.Client{Brokers: []string{broker}}.CreateTopics(ctx, 2, topics...)
}
