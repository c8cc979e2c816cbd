package workspace

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/ingest/collect/collecttest"
	"github.com/scimwatch/scimwatch/internal/tlsconf"
	"github.com/scimwatch/scimwatch/internal/vendorfake"
)

func setup(t *testing.T, mod func(*Config)) (*vendorfake.Workspace, *collecttest.Env, *collect.Runner) {
	w, err := vendorfake.NewWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	e := collecttest.New(t)
	c := Config{Common: collect.Common{Tenant: "acme", Topic: e.Topic, TLS: tlsconf.Config{CAFile: w.CAFile}},
		CredentialsFile: w.KeyFile, Subject: w.Admin, ReportsURL: w.URL(), Applications: []string{"admin", "login"}, MaxResults: 400}
	c.Defaults()
	if errs := c.Validate("workspace[0]"); len(errs) > 0 {
		t.Fatal(errs)
	}
	c.PollInterval = 100 * time.Millisecond
	if mod != nil {
		mod(&c)
	}
	col, err := New(c, e.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.Run(t, collect.Config{}, col)
	return w, e, r
}

func activities(app string, from, n int, at time.Time) [][]byte {
	var out [][]byte
	for i := from; i < from+n; i++ {
		// Google's unique qualifiers are signed 64-bit numbers.
		out = append(out, vendorfake.WorkspaceActivity(app, -4000000000000000000+int64(i), "USER_SETTINGS", "CHANGE_PASSWORD", "admin@acme.example",
			map[string]string{"USER_EMAIL": fmt.Sprintf("u%d@acme.example", i)}, at.Add(time.Duration(i)*time.Millisecond)))
	}
	return out
}

func wantKeys(t *testing.T, e *collecttest.Env, n int) {
	t.Helper()
	keys := e.Keys(t, n, 30*time.Second)
	for k, c := range collecttest.Count(keys) {
		if c != 1 {
			t.Fatalf("%s is in the topic %d times", k, c)
		}
	}
	if len(keys) != n {
		t.Fatalf("%d records, want %d", len(keys), n)
	}
}

func TestApplicationsPagesAndLateActivities(t *testing.T) {
	w, e, _ := setup(t, nil)
	w.Add("admin", activities("admin", 0, 1000, time.Now().Add(-10*time.Minute))...)
	w.Add("login", activities("login", 0, 50, time.Now().Add(-time.Minute))...)
	wantKeys(t, e, 1050)
	// Login events can be hours late: one of two hours ago appears now.
	w.Add("login", activities("login", 50, 1, time.Now().Add(-2*time.Hour))...)
	wantKeys(t, e, 1051)
}

func TestRateLimitAndTokenExpiry(t *testing.T) {
	w, e, _ := setup(t, func(c *Config) { c.Applications = []string{"admin"} })
	w.Fail(2, vendorfake.RateLimited)
	w.Add("admin", activities("admin", 0, 100, time.Now().Add(-time.Minute))...)
	wantKeys(t, e, 100)
	issued := w.TokensIssued()
	w.ExpireTokens()
	w.Add("admin", activities("admin", 100, 10, time.Now().Add(-time.Second))...)
	wantKeys(t, e, 110)
	if w.TokensIssued() <= issued {
		t.Error("no new token after the old one expired")
	}
	if got := testutil.ToFloat64(e.Metrics.APIErrors.WithLabelValues("workspace-acme", "workspace", "acme", "403")); got != 2 {
		t.Errorf("api_errors_total{status=403} = %v, want 2", got)
	}
}

func TestRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		fake func(*vendorfake.Workspace)
		cfg  func(*Config)
		want string
	}{
		"not an admin":           {fake: func(w *vendorfake.Workspace) { w.Set(func(w *vendorfake.Workspace) { w.NotAdmin = true }) }, want: "Not Authorized"},
		"delegation not granted": {cfg: func(c *Config) { c.Subject = "someone@acme.example" }, want: "unauthorized_client"},
	} {
		t.Run(name, func(t *testing.T) {
			w, _, r := setup(t, tc.cfg)
			if tc.fake != nil {
				tc.fake(w)
			}
			var err error
			for deadline := time.Now().Add(15 * time.Second); err == nil && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
				err = r.Ready(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ready: %v, want %q", err, tc.want)
			}
		})
	}
}
