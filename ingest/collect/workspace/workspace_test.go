package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/ingest/collect/collecttest"
	"github.com/scimwatch/scimwatch/internal/tlsconf"
	"github.com/scimwatch/scimwatch/internal/vendorfake"
)

func setup(t *testing.T, mod func(*Config), fake ...func(*vendorfake.Workspace)) (*vendorfake.Workspace, *collecttest.Env, *collect.Runner) {
	w, err := vendorfake.NewWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	for _, f := range fake {
		f(w)
	}
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

// TestRealRecordsUnchanged: Workspace activities written by others (one
// event per record, numbers as strings, parameters as a map), served by
// the fake Reports API with the RFC 3339 times the API gives, reach Kafka
// byte for byte, from each application collected.
func TestRealRecordsUnchanged(t *testing.T) {
	b, err := os.ReadFile("testdata/gworkspace-activity.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	apps := []string{"admin", "login", "token", "saml", "user_accounts"}
	served := map[string]bool{}
	zoneless := regexp.MustCompile(`"time": "(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})\d*"`)
	_, e, _ := setup(t, func(c *Config) { c.Applications, c.Start = apps, 5*365*24*time.Hour }, func(w *vendorfake.Workspace) {
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			line = zoneless.ReplaceAll(line, []byte(`"time": "${1}T${2}Z"`))
			var a struct {
				ID struct {
					ApplicationName string `json:"applicationName"`
					Time            string `json:"time"`
				} `json:"id"`
			}
			if json.Unmarshal(line, &a) != nil || !slices.Contains(apps, a.ID.ApplicationName) || a.ID.Time == "" {
				continue // Google serves every activity with its time (some samples were cut down)
			}
			w.Add(a.ID.ApplicationName, line)
			var c bytes.Buffer // as the fake serves it: compact JSON, as Google does
			_ = json.Compact(&c, line)
			served[c.String()] = true
		}
	})
	if len(served) < 25 {
		t.Fatalf("only %d samples", len(served))
	}
	e.WantValues(t, served)
}
