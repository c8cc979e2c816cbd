package slack

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the code")

var t0 = time.Date(2026, 11, 21, 3, 12, 5, 0, time.UTC)

func testConfig(api string) Config {
	cfg := DefaultConfig()
	cfg.APIURL = api
	cfg.TokenEnv = "SCIMWATCH_TEST_SLACK_TOKEN"
	cfg.Channel = "#scimwatch"
	cfg.Routes = []Route{{Match: alerting.Matchers{"severity": "critical"}, Channel: "#sec-critical"},
		{Match: alerting.Matchers{"tenant": "globex"}, Channel: "#globex", Redact: true}}
	cfg.DashboardURL = "https://grafana.example.com/d/scimwatch-actor?var-tenant={{.Tenant}}&var-actor={{.Actor}}"
	return cfg
}

func init() { os.Setenv("SCIMWATCH_TEST_SLACK_TOKEN", "xoxb-test") }

// grant is a privileged grant as the detector hands it over.
func grant(id, tenant, severity string, count int, status string) detect.Alert {
	return detect.Alert{ID: id, Rule: "privileged-role-grant", Severity: severity, Tenant: tenant, Key: id, Status: status,
		Final: true, Count: count, First: t0, Last: t0.Add(time.Duration(count-1) * time.Minute), Events: []string{"evt-001", "evt-002"},
		Title:       "Privileged role Global Administrator granted to eve@acme.com by mallory@acme.com",
		Summary:     "mallory@acme.com granted Global Administrator to eve@acme.com in tenant acme at 2026-11-21 03:12:05 UTC (entra: Add member to role).",
		Description: "A role from the privileged_roles list was granted. Confirm the grant was requested and approved.",
		Runbook:     "https://wiki.example.com/runbooks/privileged-role-grant", Tags: []string{"T1098.003"},
		Actor: "mallory@acme.com", Targets: []string{"user: eve@acme.com", "role: Global Administrator", "user: <!channel>"},
		Observed: time.Now()}
}

type rig struct {
	ws    *fakeslack.Workspace
	n     *alerting.Notifier
	store alerting.Store
	stop  func()
}

func startRig(t *testing.T, ws *fakeslack.Workspace, store alerting.Store) *rig {
	t.Helper()
	recv, err := New(testConfig(ws.URL()), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := alerting.DefaultConfig()
	cfg.GroupWait, cfg.GroupInterval = 0, 0
	n, err := alerting.New(cfg, store, []alerting.Receiver{recv}, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	r := &rig{ws: ws, n: n, store: store, stop: func() { cancel(); <-done }}
	t.Cleanup(r.stop)
	waitFor(t, "the notifier", n.Ready)
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, cond)
}

func posts(ws *fakeslack.Workspace, channel string) (top, replies []fakeslack.Message) {
	for _, m := range ws.Messages(channel) {
		if m.ThreadTS == "" {
			top = append(top, m)
		} else {
			replies = append(replies, m)
		}
	}
	return top, replies
}

// TestPostEditThreadRoute: a notification is posted once, in its route's
// channel; its repeats and its resolution edit that message and reply in
// its thread; nothing else is posted.
func TestPostEditThreadRoute(t *testing.T) {
	ws := fakeslack.Start()
	defer ws.Stop()
	r := startRig(t, ws, alerting.NewMemoryStore())
	a := grant("a1", "acme", "critical", 1, detect.StatusFiring)
	a.Final = false
	must(t, r.n.Alert(a))
	waitFor(t, "the post", func() bool { top, _ := posts(ws, "#sec-critical"); return len(top) == 1 })
	a.Count, a.Last = 7, t0.Add(6*time.Minute)
	must(t, r.n.Alert(a))
	waitFor(t, "the edit with the new count", func() bool {
		top, replies := posts(ws, "#sec-critical")
		return top[0].Edits == 1 && len(replies) == 1
	})
	a.Status, a.Final, a.Count = detect.StatusResolved, true, 9
	must(t, r.n.Alert(a))
	waitFor(t, "the resolution", func() bool {
		top, replies := posts(ws, "#sec-critical")
		return top[0].Edits == 2 && len(replies) == 2
	})
	top, replies := posts(ws, "#sec-critical")
	if len(ws.Messages("")) != 3 {
		t.Errorf("%d messages in the workspace, want one post and two replies", len(ws.Messages("")))
	}
	if !strings.Contains(replies[0].Text, "6 more events (7 in all).") || !strings.Contains(replies[1].Text, "Resolved") || !replies[1].Broadcast {
		t.Errorf("thread replies %q, %q", replies[0].Text, replies[1].Text)
	}
	for _, want := range []string{`"text":"🔴 CRITICAL · Privileged role Global Administrator granted`, `✅ *Resolved*`, `*Events*\n9`, `\u0026lt;!channel\u0026gt;`, "var-actor=mallory%40acme.com"} {
		if !strings.Contains(string(top[0].Blocks), want) {
			t.Errorf("final message lacks %q:\n%s", want, top[0].Blocks)
		}
	}
	if strings.Contains(string(top[0].Blocks), "scimwatch_ack") {
		t.Error("a resolved notification still has its buttons")
	}
	if top[0].Metadata.EventType != metadataType || top[0].Metadata.EventPayload["notification_id"] == nil {
		t.Errorf("metadata %+v", top[0].Metadata)
	}
}

// TestRedactedRoute: a route with redact shows pseudonyms, not emails.
func TestRedactedRoute(t *testing.T) {
	ws := fakeslack.Start()
	defer ws.Stop()
	r := startRig(t, ws, alerting.NewMemoryStore())
	must(t, r.n.Alert(grant("g1", "globex", "high", 1, detect.StatusFiring)))
	waitFor(t, "the post", func() bool { top, _ := posts(ws, "#globex"); return len(top) == 1 })
	top, _ := posts(ws, "#globex")
	body := string(top[0].Blocks) + top[0].Text
	if strings.Contains(body, "mallory") || strings.Contains(body, "eve@acme.com") || !strings.Contains(body, "person-") ||
		!strings.Contains(body, "role: Global Administrator") {
		t.Errorf("redacted message shows personal data:\n%s", body)
	}
}

// TestRateLimitAndOutage: 429 with Retry-After and 5xx are retried,
// honouring Retry-After; the notification is posted once in the end.
func TestRateLimitAndOutage(t *testing.T) {
	ws := fakeslack.Start()
	defer ws.Stop()
	recv, err := New(testConfig(ws.URL()), nil)
	must(t, err)
	ws.Fail(7, http.StatusTooManyRequests)
	n := &alerting.Notification{ID: "n1", Alerts: []alerting.Alert{{ID: "a", Rule: "r", Severity: "high", Status: alerting.StatusFiring, Title: "T", Events: []string{"e"}}}, Version: 1}
	record := func(alerting.Delivery) error { return nil }
	_, err = recv.Notify(context.Background(), n, alerting.Delivery{}, record)
	if retry, after := alerting.Retryable(err); !retry || after != 7*time.Second {
		t.Fatalf("429: %v (retry %v after %v), want a retry after 7s", err, retry, after)
	}
	ws.Fail(0, http.StatusServiceUnavailable)
	_, err = recv.Notify(context.Background(), n, alerting.Delivery{Pending: time.Now()}, record)
	if retry, _ := alerting.Retryable(err); !retry {
		t.Fatalf("503: %v, want retryable", err)
	}
	cfg := testConfig(ws.URL())
	cfg.Channel = ""
	cfg.Routes = nil
	bad := &Receiver{cfg: cfg, client: recv.client, logger: recv.logger, now: time.Now}
	if _, err = bad.Notify(context.Background(), n, alerting.Delivery{}, record); err == nil {
		t.Fatal("posting to no channel succeeded")
	} else if retry, _ := alerting.Retryable(err); retry {
		t.Errorf("channel_not_found: %v is retryable; it needs a person", err)
	}

	// Through the notifier: two 503s then a success: posted once.
	ws.Fail(0, http.StatusServiceUnavailable, http.StatusBadGateway)
	r := startRig(t, ws, alerting.NewMemoryStore())
	must(t, r.n.Alert(grant("o1", "acme", "high", 1, detect.StatusFiring)))
	waitFor(t, "the post after the outage", func() bool { top, _ := posts(ws, "#scimwatch"); return len(top) == 1 })
	time.Sleep(100 * time.Millisecond)
	if top, _ := posts(ws, "#scimwatch"); len(top) != 1 {
		t.Errorf("%d posts after the outage, want 1", len(top))
	}
}

// crashAfterPost is a store that loses the record of a post: a crash
// between Slack's answer and the notification log's write.
type crashAfterPost struct {
	alerting.Store
	mu      sync.Mutex
	crashed bool
}

func (c *crashAfterPost) SaveDelivery(ctx context.Context, d alerting.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.Ref != "" || c.crashed {
		c.crashed = true
		return errors.New("crashed")
	}
	return c.Store.SaveDelivery(ctx, d)
}

// TestRestartNeverPostsTwice: after a restart the notification's message
// is edited, not posted again; also when the process died between Slack's
// answer and the record of the message.
func TestRestartNeverPostsTwice(t *testing.T) {
	ws := fakeslack.Start()
	defer ws.Stop()
	store := alerting.NewMemoryStore()
	r := startRig(t, ws, store)
	a := grant("r1", "acme", "high", 1, detect.StatusFiring)
	a.Final = false
	must(t, r.n.Alert(a))
	waitFor(t, "the post", func() bool { top, _ := posts(ws, "#scimwatch"); return len(top) == 1 })
	r.stop()
	r2 := startRig(t, ws, store)
	a.Status, a.Final, a.Count = detect.StatusResolved, true, 3
	must(t, r2.n.Alert(a))
	waitFor(t, "the edit", func() bool { top, _ := posts(ws, "#scimwatch"); return top[0].Edits == 1 })
	r2.stop()

	crash := &crashAfterPost{Store: alerting.NewMemoryStore()}
	r3 := startRig(t, ws, crash)
	b := grant("r2", "acme", "high", 1, detect.StatusFiring)
	b.Final = false
	must(t, r3.n.Alert(b))
	waitFor(t, "the post whose record is lost", func() bool { top, _ := posts(ws, "#scimwatch"); return len(top) == 2 })
	r3.stop()
	r4 := startRig(t, ws, crash.Store) // the process restarts on what was stored
	b.Status, b.Final, b.Count = detect.StatusResolved, true, 2
	must(t, r4.n.Alert(b))
	waitFor(t, "the edit of the message found again", func() bool { top, _ := posts(ws, "#scimwatch"); return top[1].Edits >= 1 })
	if top, _ := posts(ws, "#scimwatch"); len(top) != 2 {
		t.Errorf("%d messages, want 2: a restart posted one twice", len(top))
	}
}

// TestBlocksGolden pins the Block Kit of a notification as it fires and
// as it is resolved (go test ./alerting/slack/ -run TestBlocksGolden -args
// -update rewrites them; the README's pictures are rendered from them with
// ./alerting/slack/preview).
func TestBlocksGolden(t *testing.T) {
	d := detect.Alert{ID: "7a41c0e2f9d38b15", Rule: "bulk-role-change", Severity: "high", Tenant: "acme", Key: "acme|00u1adm1nXYZ",
		Count: 20, First: t0, Last: t0.Add(3*time.Minute + 40*time.Second), Events: []string{"evt-5a1c", "evt-5a1d", "evt-5a22", "evt-5a29", "evt-5a30"},
		Title:       "mallory@acme.com made 20 role or group membership changes within 10 minutes",
		Summary:     "mallory@acme.com made 20 role or group membership changes in tenant acme from 03:12:05 to 03:15:45 UTC.",
		Description: "One actor makes at least 20 role grants or revokes, or group membership changes, within 10 minutes.",
		Runbook:     "https://wiki.example.com/runbooks/bulk-role-change", Tags: []string{"T1098"},
		Actor: "mallory@acme.com", Targets: []string{"user: eve@acme.com", "group: AWS-Prod-Admins"}}
	var a alerting.Alert
	must(t, fromDetect(&a, &d))
	a.Status, a.StatusBy, a.StatusAt = alerting.StatusFiring, "detect", t0.Add(3*time.Minute+40*time.Second)
	firing := &alerting.Notification{ID: "5f0c2a9e13b7d4e1", Version: 1, Alerts: []alerting.Alert{a}}
	a.Count, a.Last = 26, t0.Add(5*time.Minute+2*time.Second)
	a.Title = "mallory@acme.com made 26 role or group membership changes within 10 minutes"
	a.Summary = "mallory@acme.com made 26 role or group membership changes in tenant acme from 03:12:05 to 03:17:07 UTC."
	a.Status, a.StatusAt, a.Resolved = alerting.StatusResolved, t0.Add(15*time.Minute), true
	resolved := &alerting.Notification{ID: firing.ID, Version: 3, Alerts: []alerting.Alert{a}}
	cfg := testConfig("http://x/")
	dash, err := New(cfg, nil)
	must(t, err)
	for name, n := range map[string]*alerting.Notification{"firing": firing, "resolved": resolved} {
		msg := render(n, dash.dashboard, false)
		got, err := json.MarshalIndent(map[string]any{"text": msg.text, "blocks": msg.blocks}, "", "  ")
		must(t, err)
		path := "testdata/" + name + ".json"
		if *update {
			must(t, os.WriteFile(path, append(got, '\n'), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		must(t, err)
		if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
			t.Errorf("%s differs from the code's:\n%s", path, got)
		}
	}
}

// fromDetect fills a from d as the notifier does.
func fromDetect(a *alerting.Alert, d *detect.Alert) error {
	*a = alerting.Alert{ID: d.ID, Rule: d.Rule, Severity: d.Severity, Tenant: d.Tenant, Key: d.Key, Count: d.Count, First: d.First, Last: d.Last,
		Events: d.Events, Title: d.Title, Summary: d.Summary, Description: d.Description, Runbook: d.Runbook, Tags: d.Tags, Actor: d.Actor,
		Targets: d.Targets, GroupID: "g"}
	if a.ID == "" {
		return fmt.Errorf("no id")
	}
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditTextIsEscapedEverywhere: every field a message takes from the
// audit log reaches Slack escaped, the fallback text included (it is what
// push and desktop notifications show, and Slack parses it: an actor named
// <!channel> once reached it raw); the dashboard link's values are
// query-escaped.
func TestAuditTextIsEscapedEverywhere(t *testing.T) {
	ws := fakeslack.Start()
	defer ws.Stop()
	r := startRig(t, ws, alerting.NewMemoryStore())
	a := grant("x1", "acme", "high", 1, detect.StatusFiring)
	a.Actor = "<!channel> x&var-tenant=globex"
	a.Title = "Privileged role <!here> granted to <@U0ADMIN> by <!channel>"
	a.Summary = "<https://evil.example|click> <!everyone>"
	a.Tags = []string{"<!subteam^S1>"}
	a.Events = []string{"<!channel>"}
	a.Targets = []string{"user: <!channel>", "role: <@U0ADMIN>"}
	must(t, r.n.Alert(a))
	waitFor(t, "the post", func() bool { top, _ := posts(ws, "#scimwatch"); return len(top) == 1 })
	top, _ := posts(ws, "#scimwatch")
	m := top[0]
	var blocks any
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"<!channel>", "<!here>", "<@U0ADMIN>", "<!everyone>", "<https://evil", "<!subteam"} {
		if strings.Contains(m.Text, raw) {
			t.Errorf("fallback text carries %s raw: %q", raw, m.Text)
		}
		// Blocks are JSON: Slack reads their text after JSON decoding.
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if v["type"] == "mrkdwn" && strings.Contains(fmt.Sprint(v["text"]), raw) {
					t.Errorf("a mrkdwn block carries %s raw: %q", raw, v["text"])
				}
				if u, ok := v["url"].(string); ok && (strings.Contains(u, "&var-tenant=globex") || strings.Contains(u, "<")) {
					t.Errorf("dashboard link not escaped: %s", u)
				}
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(blocks)
	}
	if !strings.Contains(m.Text, "&lt;!channel&gt;") {
		t.Errorf("fallback text %q: want the title escaped, not dropped", m.Text)
	}
}
