package graph

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/ingest/collect/collecttest"
	"github.com/scimwatch/scimwatch/internal/tlsconf"
	"github.com/scimwatch/scimwatch/internal/vendorfake"
)

const secretValue = "graph-secret~Qx8.tR2"

func setup(t *testing.T, mod func(*Config), fake ...func(*vendorfake.Graph)) (*vendorfake.Graph, *collecttest.Env, *collect.Runner) {
	g, err := vendorfake.NewGraph(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	g.ClientSecret = secretValue
	for _, f := range fake {
		f(g)
	}
	e := collecttest.New(t)
	t.Setenv("GRAPH_TEST_SECRET", secretValue)
	c := Config{Common: collect.Common{Tenant: "contoso", Topic: e.Topic, TLS: tlsconf.Config{CAFile: g.CAFile}},
		TenantID: g.TenantID, ClientID: g.ClientID, ClientSecretEnv: "GRAPH_TEST_SECRET", GraphURL: g.URL(), AuthorityHost: g.URL(),
		Logs: []string{"directoryAudits"}}
	c.Defaults()
	if errs := c.Validate("graph[0]"); len(errs) > 0 {
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
	return g, e, r
}

func audits(from, n int, at time.Time) [][]byte {
	var out [][]byte
	for i := from; i < from+n; i++ {
		out = append(out, vendorfake.GraphAudit(fmt.Sprintf("Directory_%06d", i), "Add member to role", "RoleManagement", "admin@contoso.example", "user@contoso.example", at.Add(time.Duration(i)*time.Millisecond)))
	}
	return out
}

func wantOnce(t *testing.T, e *collecttest.Env, n int) {
	t.Helper()
	keys := e.Keys(t, n, 30*time.Second)
	counts := collecttest.Count(keys)
	for i := range n {
		if k := fmt.Sprintf("directoryAudits:Directory_%06d", i); counts[k] != 1 {
			t.Fatalf("%s is in the topic %d times, want once (%d records)", k, counts[k], len(keys))
		}
	}
	if len(keys) != n {
		t.Fatalf("%d records, want %d", len(keys), n)
	}
}

func TestPagesOverlapAndLateRecords(t *testing.T) {
	g, e, _ := setup(t, nil)
	g.Add("directoryAudits", audits(0, 2500, time.Now().Add(-10*time.Minute))...)
	wantOnce(t, e, 2500)
	// Microsoft's lateness: a record of five minutes ago appears now,
	// behind the cursor but within the overlap window.
	g.Add("directoryAudits", audits(2500, 1, time.Now().Add(-5*time.Minute-2500*time.Millisecond))...)
	wantOnce(t, e, 2501)
	if got := testutil.ToFloat64(e.Metrics.APIRequests.WithLabelValues("graph-contoso", "graph", "contoso", "200")); got < 4 {
		t.Errorf("%v requests answered 200, want at least the 3 pages and a poll", got)
	}
}

func TestThrottlingAndTokenExpiry(t *testing.T) {
	g, e, _ := setup(t, nil)
	g.Fail(2, vendorfake.Fault{Status: 429, Header: http.Header{"Retry-After": {"1"}}, Body: `{"error":{"code":"TooManyRequests","message":"Too many requests"}}`})
	g.Add("directoryAudits", audits(0, 1200, time.Now().Add(-time.Minute))...)
	wantOnce(t, e, 1200)
	issued := g.TokensIssued()
	g.ExpireTokens()
	g.Fail(1, vendorfake.Fault{Status: 503, Body: `{"error":{"code":"ServiceUnavailable"}}`})
	g.Add("directoryAudits", audits(1200, 10, time.Now().Add(-10*time.Second))...)
	wantOnce(t, e, 1210)
	if g.TokensIssued() <= issued {
		t.Error("no new token after the old one expired")
	}
	for status, want := range map[string]float64{"429": 2, "503": 1} {
		if got := testutil.ToFloat64(e.Metrics.APIErrors.WithLabelValues("graph-contoso", "graph", "contoso", status)); got != want {
			t.Errorf("api_errors_total{status=%s} = %v, want %v", status, got, want)
		}
	}
}

func waitRefused(t *testing.T, r *collect.Runner, want string) error {
	t.Helper()
	var err error
	for deadline := time.Now().Add(15 * time.Second); err == nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		err = r.Ready(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("ready: %v, want %q", err, want)
	}
	return err
}

func TestPermissionAndRevokedSecret(t *testing.T) {
	g, _, r := setup(t, nil)
	g.Set(func(g *vendorfake.Graph) { g.Denied["directoryAudits"] = true })
	waitRefused(t, r, "Authorization_RequestDenied")

	g2, _, r2 := setup(t, nil)
	g2.Revoke(true)
	g2.ExpireTokens()
	err := waitRefused(t, r2, "AADSTS7000222")
	if strings.Contains(err.Error(), secretValue) {
		t.Fatal("the secret is in the readiness error")
	}
}

func TestCertificateCredential(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "scimwatch"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	pemFile := filepath.Join(t.TempDir(), "app.pem")
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	_ = os.WriteFile(pemFile, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})...), 0o600)
	g, e, _ := setup(t, func(c *Config) { c.ClientSecretEnv, c.CertificateFile = "", pemFile },
		func(g *vendorfake.Graph) { g.ClientSecret, g.Certificate = "", cert })
	g.Add("directoryAudits", audits(0, 5, time.Now().Add(-time.Minute))...)
	wantOnce(t, e, 5)
}

// TestRealRecordsUnchanged: Entra records written by others (7-decimal
// times, "True" for true, JSON in strings), unwrapped to the Graph objects
// Graph serves, are all collected byte for byte from the log their
// category names.
func TestRealRecordsUnchanged(t *testing.T) {
	b, err := os.ReadFile("testdata/entra-azure-monitor.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	_, e, _ := setup(t, func(c *Config) { c.Logs, c.Start = []string{"directoryAudits", "signIns"}, 5*365*24*time.Hour },
		func(g *vendorfake.Graph) {
			for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
				var r struct {
					Category   string          `json:"category"`
					Properties json.RawMessage `json:"properties"`
				}
				if json.Unmarshal(line, &r) != nil || len(r.Properties) == 0 {
					continue
				}
				log, field := "directoryAudits", "activityDateTime"
				if r.Category == "SignInLogs" {
					log, field = "signIns", "createdDateTime"
				}
				var times map[string]any
				_ = json.Unmarshal(r.Properties, &times)
				if ts, _ := times[field].(string); r.Category != "AuditLogs" && r.Category != "SignInLogs" || !rfc3339(ts) {
					continue // Graph serves every record with its time, in RFC 3339 (some samples' were rewritten)
				}
				g.Add(log, r.Properties)
				var c bytes.Buffer // as the fake serves it: compact JSON, as Graph does
				_ = json.Compact(&c, r.Properties)
				served[c.String()] = true
			}
		})
	if len(served) < 10 {
		t.Fatalf("only %d samples", len(served))
	}
	e.WantValues(t, served)
}

func rfc3339(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// TestOneLogRefused: a tenant without the licence for sign-in logs gets
// 403 on signIns while its audit log is read: the collector keeps
// collecting the audit log, and stays not ready, naming signIns, however
// often the audit log's polls succeed.
func TestOneLogRefused(t *testing.T) {
	g, e, r := setup(t, func(c *Config) { c.Logs = []string{"directoryAudits", "signIns"} },
		func(g *vendorfake.Graph) { g.Denied["signIns"] = true })
	g.Add("directoryAudits", audits(0, 5, time.Now().Add(-time.Minute))...)
	wantOnce(t, e, 5)
	waitRefused(t, r, "graph-contoso/signIns")
	g.Add("directoryAudits", audits(5, 5, time.Now().Add(-time.Second))...)
	wantOnce(t, e, 10)
	time.Sleep(300 * time.Millisecond) // more successful polls of the audit log
	if err := r.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "Authorization_RequestDenied") {
		t.Fatalf("ready: %v, want signIns refused", err)
	}
	up, err := testutil.GatherAndCount(e.Reg, "scimwatch_collector_up")
	if err != nil || up != 1 {
		t.Fatalf("scimwatch_collector_up series: %d, %v", up, err)
	}
	mfs, _ := e.Reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "scimwatch_collector_up" && mf.GetMetric()[0].GetGauge().GetValue() != 0 {
			t.Error("scimwatch_collector_up is 1 with a log refused")
		}
	}
}
