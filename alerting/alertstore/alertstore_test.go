package alertstore

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/slack"
	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
	"github.com/scimwatch/scimwatch/storage/clickhouse/clickhousetest"
)

func open(t *testing.T) (*Store, *clickhouse.Store) {
	t.Helper()
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs = []string{testenv.ClickHouse(t)}
	cfg.Database = testenv.Name("scimwatch_alerts")
	ch, err := clickhouse.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ch.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		ch.Close()
	})
	if err := ch.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return New(ch), ch
}

// TestRoundTrip: what is stored reads back, the latest version of each
// alert, notification and silence winning.
func TestRoundTrip(t *testing.T) {
	s, ch := open(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 3, 12, 5, 123e6, time.UTC)
	a := alerting.Alert{ID: "a1", Rule: "privileged-role-grant", Severity: "high", Tenant: "acme", Key: "k", GroupID: "g1",
		Status: alerting.StatusFiring, StatusBy: "detect", StatusAt: at, First: at, Last: at, Count: 1, Events: []string{"e1"},
		Title: "T", Summary: "S", Actor: "mallory@acme.com", Targets: []string{"user: eve"}, Version: 1, OneShot: true}
	if err := s.SaveAlerts(ctx, []alerting.Alert{a}, []alerting.Change{{AlertID: "a1", Tenant: "acme", Rule: a.Rule, Status: "firing", By: "detect", At: at, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	a.Status, a.StatusBy, a.Version, a.Count = alerting.StatusFalsePositive, "U1 alice", 2, 4
	if err := s.SaveAlerts(ctx, []alerting.Alert{a}, []alerting.Change{{AlertID: "a1", Tenant: "acme", Rule: a.Rule, Status: "false_positive", By: "U1 alice", At: at, Count: 4}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadAlerts(ctx, at.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status != alerting.StatusFalsePositive || got[0].Count != 4 || !got[0].First.Equal(at) || !got[0].OneShot || got[0].Targets[0] != "user: eve" {
		t.Fatalf("alerts %+v", got)
	}
	// The buffer flushes within 2 s: the tables dashboards read then hold
	// the latest state, and the history both.
	waitFor(t, "the buffer to flush into alerts and alert_changes", func() bool {
		var fps, changes uint64
		_ = s.conn.QueryRow(ctx, "SELECT sum(false_positive) FROM "+s.db+".alerts FINAL").Scan(&fps)
		_ = s.conn.QueryRow(ctx, "SELECT count() FROM "+s.db+".alert_changes WHERE id = 'a1'").Scan(&changes)
		return fps == 1 && changes == 2
	})
	for _, d := range []alerting.Delivery{{Receiver: "slack", GroupID: "g1", Pending: at}, {Receiver: "slack", GroupID: "g1", Version: 2, Ref: "C1/1.2", Sent: at, Shown: "firing:1"}} {
		if err := s.SaveDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.LoadDeliveries(ctx, at.Add(-time.Hour))
	if err != nil || len(ds) != 1 || ds[0].Ref != "C1/1.2" || ds[0].Version != 2 || !ds[0].Pending.IsZero() {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	sl, err := alerting.NewSilence(alerting.Matchers{"actor": "svc-*", "tenant": "acme"}, time.Now(), time.Now().Add(time.Hour), "alice", "migration", time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSilence(ctx, sl); err != nil {
		t.Fatal(err)
	}
	sl.End, sl.Version = time.Now(), sl.Version+1 // expired
	if err := s.SaveSilence(ctx, sl); err != nil {
		t.Fatal(err)
	}
	broad, err := alerting.NewSilence(alerting.Matchers{"tenant": "acme"}, time.Now(), time.Now().Add(time.Hour), "alice", "tenant migration weekend", time.Now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSilence(ctx, broad); err != nil {
		t.Fatal(err)
	}
	ss, err := s.LoadSilences(ctx)
	if err != nil || len(ss) != 2 {
		t.Fatalf("silences %+v, %v", ss, err)
	}
	for _, got := range ss {
		switch got.ID {
		case sl.ID:
			if got.Matchers["actor"] != "svc-*" || got.Active(time.Now().Add(time.Second)) || got.Broad {
				t.Errorf("silence %+v", got)
			}
		case broad.ID:
			if !got.Broad {
				t.Errorf("a broad silence read back as not broad: %+v", got)
			}
		}
	}
	// ClickHouse 26 (chDB) holding the same rows: each read, as the driver
	// sends it, gives what it gives on 18.16.
	var sent []string
	ch.Trace(func(q string) { sent = append(sent, q) })
	if _, err := s.LoadAlerts(ctx, at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadDeliveries(ctx, at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadSilences(ctx); err != nil {
		t.Fatal(err)
	}
	ch.Trace(nil)
	twin := clickhousetest.NewTwin(t, ch)
	queries := clickhousetest.Queries(sent)
	if len(queries) != 3 {
		t.Fatalf("traced %q", sent)
	}
	for _, q := range queries {
		if twin.Compare(t, q) == 0 {
			t.Errorf("no rows on 18.16: %s", q)
		}
	}
}

// TestSlackAfterRestartWithClickHouse: the whole durable path on the real
// server: an alert posted to Slack, the process stopped, a new one started
// on the same database: the resolution edits the same message.
func TestSlackAfterRestartWithClickHouse(t *testing.T) {
	s, _ := open(t)
	ws := fakeslack.Start()
	defer ws.Stop()
	os.Setenv("SCIMWATCH_TEST_SLACK_TOKEN", "xoxb-test")
	run := func() (*alerting.Notifier, func()) {
		cfg := slack.DefaultConfig()
		cfg.APIURL, cfg.TokenEnv, cfg.Channel = ws.URL(), "SCIMWATCH_TEST_SLACK_TOKEN", "#scimwatch"
		recv, err := slack.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		acfg := alerting.DefaultConfig()
		acfg.GroupWait, acfg.GroupInterval = 0, 0
		n, err := alerting.New(acfg, s, []alerting.Receiver{recv}, prometheus.NewRegistry(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = n.Run(ctx) }()
		waitFor(t, "the notifier", n.Ready)
		return n, func() { cancel(); <-done }
	}
	a := detect.Alert{ID: "x1", Rule: "bulk-role-change", Severity: "high", Tenant: "acme", Key: "acme|m", Status: detect.StatusFiring,
		Count: 20, First: time.Now().Add(-time.Minute), Last: time.Now(), Events: []string{"e1"}, Title: "mallory made 20 changes", Actor: "mallory", Observed: time.Now()}
	n, stop := run()
	if err := n.Alert(a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the post", func() bool { return len(ws.Messages("#scimwatch")) == 1 })
	stop()
	n2, stop2 := run()
	defer stop2()
	a.Status, a.Final, a.Count = detect.StatusResolved, true, 26
	if err := n2.Alert(a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edit and its thread reply", func() bool {
		ms := ws.Messages("#scimwatch")
		return len(ms) == 2 && ms[0].Edits == 1
	})
	ms := ws.Messages("#scimwatch")
	if ms[1].ThreadTS != ms[0].TS || !strings.Contains(ms[1].Text, "6 more events (26 in all). ✅ *Resolved*") {
		t.Errorf("after the restart: %+v", ms)
	}
	waitFor(t, "the history firing, then resolved", func() bool {
		var history []string
		rows, err := s.conn.Query(context.Background(), "SELECT status FROM "+s.db+".alert_changes WHERE id = 'x1' ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var st string
			_ = rows.Scan(&st)
			history = append(history, st)
		}
		return strings.Join(history, ",") == "firing,resolved"
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, cond)
}
