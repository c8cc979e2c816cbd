package alertmanager

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	amclient "github.com/prometheus/alertmanager/api/v2/client"
	"github.com/prometheus/alertmanager/api/v2/client/alertgroup"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/ingest/testenv"
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
