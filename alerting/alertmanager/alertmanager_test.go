package alertmanager

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	amclient "github.com/prometheus/alertmanager/api/v2/client"
	"github.com/prometheus/alertmanager/api/v2/client/alertgroup"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/internal/testenv"
)

// groups returns the alerts of Alertmanager's groups, by group labels.
func groups(t *testing.T, api *amclient.AlertmanagerAPI, tenant string) map[string][]string {
	t.Helper()
	ok, err := api.Alertgroup.GetAlertGroups(alertgroup.NewGetAlertGroupsParams().WithFilter([]string{"tenant=" + tenant}))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, g := range ok.Payload {
		var labels []string
		for k, v := range g.Labels {
			labels = append(labels, k+"="+v)
		}
		slices.Sort(labels)
		for _, a := range g.Alerts {
			out[strings.Join(labels, ",")] = append(out[strings.Join(labels, ",")], a.Labels["scimwatch_id"]+":"+*a.Status.State)
		}
	}
	return out
}

// TestRealAlertmanager: Debian's Alertmanager receives scimwatch's alerts,
// groups them by rule and tenant, and resolves one when scimwatch says it
// resolved.
func TestRealAlertmanager(t *testing.T) {
	base := testenv.Alertmanager(t)
	tenant := testenv.Name("acme")
	cfg := DefaultConfig()
	cfg.URL = base
	recv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acfg := alerting.DefaultConfig()
	acfg.GroupWait, acfg.GroupInterval = 0, 0
	n, err := alerting.New(acfg, alerting.NewMemoryStore(), []alerting.Receiver{recv}, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = n.Run(ctx) }()
	waitFor(t, "the notifier", n.Ready)
	now := time.Now()
	mk := func(id, rule, actor string, status string) detect.Alert {
		return detect.Alert{ID: id, Rule: rule, Severity: "high", Tenant: tenant, Key: actor, Status: status, Final: status == detect.StatusResolved,
			Count: 20, First: now.Add(-time.Minute), Last: now, Events: []string{"e"}, Title: rule + " by " + actor, Summary: "s", Actor: actor, Observed: now}
	}
	for _, a := range []detect.Alert{mk("b1", "bulk-role-change", "mallory", detect.StatusFiring), mk("b2", "bulk-role-change", "oscar", detect.StatusFiring),
		mk("c1", "credential-created", "eve", detect.StatusFiring)} {
		if err := n.Alert(a); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := url.Parse(base)
	api := amclient.NewHTTPClientWithConfig(strfmt.Default, amclient.DefaultTransportConfig().WithHost(u.Host))
	bulk := "rule=bulk-role-change,tenant=" + tenant
	waitFor(t, "Alertmanager to group the alerts", func() bool {
		g := groups(t, api, tenant)
		return len(g[bulk]) == 2 && len(g["rule=credential-created,tenant="+tenant]) == 1
	})
	if err := n.Alert(mk("b1", "bulk-role-change", "mallory", detect.StatusResolved)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resolution to reach Alertmanager", func() bool {
		g := groups(t, api, tenant)
		return slices.Equal(g[bulk], []string{"b2:active"})
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, cond)
}

// TestEnds: open alerts end four resend intervals ahead, one-shot ones no
// later than oneshot_for after they began, closed ones when they closed;
// once everything ended and Alertmanager was told, nothing is resent.
func TestEnds(t *testing.T) {
	var mu sync.Mutex
	var posts [][]map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		posts = append(posts, body)
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.URL = srv.URL
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	n := &alerting.Notification{ID: "n", Version: 1, Alerts: []alerting.Alert{
		{ID: "open", Status: alerting.StatusFiring, First: now.Add(-time.Minute)},
		{ID: "oneshot", Status: alerting.StatusFiring, OneShot: true, First: now.Add(-59 * time.Minute)},
		{ID: "closed", Status: alerting.StatusResolved, First: now.Add(-time.Hour), StatusAt: now.Add(-10 * time.Second)},
	}}
	d, err := r.Notify(context.Background(), n, alerting.Delivery{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[string]string{}
	for _, a := range posts[0] {
		ends[a["labels"].(map[string]any)["scimwatch_id"].(string)] = a["endsAt"].(string)
	}
	want := map[string]time.Time{"open": now.Add(4 * time.Minute), "oneshot": now.Add(time.Minute), "closed": now.Add(-10 * time.Second)}
	for id, w := range want {
		got, _ := time.Parse(time.RFC3339Nano, ends[id])
		if !got.Equal(w) {
			t.Errorf("%s ends %s, want %v", id, ends[id], w)
		}
	}
	now = now.Add(2 * time.Hour) // the one-shot alert ended; close the open one
	n.Alerts[0].Status, n.Alerts[0].StatusAt = alerting.StatusResolved, now.Add(-time.Hour)
	d.Version = n.Version
	if d, err = r.Notify(context.Background(), n, d, nil); err != nil || d.Shown != "ended" {
		t.Fatalf("%+v %v", d, err)
	}
	d.Version = n.Version
	if _, err = r.Notify(context.Background(), n, d, nil); err != nil {
		t.Fatal(err)
	}
	if len(posts) != 2 {
		t.Errorf("%d posts, want 2: nothing is resent once everything ended and was sent", len(posts))
	}
}

// TestOneShotRaisedLateStaysActive: a one-shot alert whose event is hours
// old (an off-hours create found in the morning) is active in Alertmanager
// for oneshot_for after it was raised, not after its event.
func TestOneShotRaisedLateStaysActive(t *testing.T) {
	r := &Receiver{cfg: DefaultConfig()}
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	a := &alerting.Alert{ID: "a1", Rule: "off-hours-user-create", Status: alerting.StatusFiring, OneShot: true,
		First: now.Add(-6 * time.Hour), Last: now.Add(-6 * time.Hour), Observed: now.Add(-time.Minute)}
	pa := r.postable(a, "n1", now)
	if end := time.Time(pa.EndsAt); !end.After(now) {
		t.Errorf("ends at %s, before now (%s): Alertmanager would show it resolved", end, now)
	}
	a.Observed = now.Add(-2 * time.Hour) // raised two hours ago: over
	if end := time.Time(r.postable(a, "n1", now).EndsAt); end.After(now) {
		t.Errorf("ends at %s, after now: oneshot_for passed", end)
	}
}
