package okta

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
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

func events(from, n int, t time.Time) [][]byte {
	var evs [][]byte
	for i := from; i < from+n; i++ {
		evs = append(evs, vendorfake.OktaEvent(fmt.Sprintf("uuid-%06d-0000-0000", i), "user.session.start", "pat@acme.example", "pat@acme.example", t))
	}
	return evs
}

func fake(t *testing.T) *vendorfake.Okta {
	o := fakeB(t)
	t.Cleanup(o.Close)
	return o
}

func fakeB(t testing.TB) *vendorfake.Okta {
	o, err := vendorfake.NewOkta(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o.APIToken = "ssws-test-token-7f3a"
	return o
}

func collector(t *testing.T, o *vendorfake.Okta, e *collecttest.Env, mod func(*Config)) *collect.Collector {
	t.Setenv("OKTA_TEST_TOKEN", o.APIToken)
	c := Config{Common: collect.Common{Tenant: "acme", Topic: e.Topic, TLS: tlsconf.Config{CAFile: o.CAFile}}, URL: o.URL(), APITokenEnv: "OKTA_TEST_TOKEN", Limit: 1000}
	c.Defaults()
	c.PollInterval = 100 * time.Millisecond
	if mod != nil {
		mod(&c)
	}
	if errs := c.Validate("okta[0]"); len(errs) > 0 && c.PollInterval >= time.Second {
		t.Fatal(errs)
	}
	col, err := New(c, e.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	return col
}

// wantOnce waits for every event 0..n-1 to be in the topic and checks
// none is there twice.
func wantOnce(t *testing.T, e *collecttest.Env, n int) {
	t.Helper()
	keys := e.Keys(t, n, 30*time.Second)
	counts := collecttest.Count(keys)
	for i := range n {
		k := fmt.Sprintf("uuid-%06d-0000-0000", i)
		if counts[k] != 1 {
			t.Fatalf("%s is in the topic %d times, want once (%d records)", k, counts[k], len(keys))
		}
	}
	if len(keys) != n {
		t.Fatalf("%d records in the topic, want %d", len(keys), n)
	}
}

func TestPagesAndCursorAcrossRestart(t *testing.T) {
	o, e := fake(t), collecttest.New(t)
	o.Add(events(0, 2500, time.Now().Add(-time.Hour))...)
	_, stop := e.Run(t, collect.Config{}, collector(t, o, e, nil))
	wantOnce(t, e, 2500)
	// A late event: stored now, published two days ago, before since.
	o.Add(events(2500, 1, time.Now().Add(-48*time.Hour))...)
	wantOnce(t, e, 2501)
	stop()
	// A new process: the cursor is read back, nothing is fetched again
	// (it remembers no ids: a poll from the start would produce repeats).
	o.Add(events(2501, 10, time.Now())...)
	e.Run(t, collect.Config{}, collector(t, o, e, nil))
	wantOnce(t, e, 2511)
}

func TestRateLimitShare(t *testing.T) {
	o, e := fake(t), collecttest.New(t)
	o.RateLimit, o.RateWindow = 6, 2*time.Second
	o.Add(events(0, 5000, time.Now())...)
	_, _ = e.Run(t, collect.Config{}, collector(t, o, e, func(c *Config) { c.Limit = 500 }))
	wantOnce(t, e, 5000)
	if o.Throttled != 0 {
		t.Errorf("the collector was throttled %d times: it should stay under half the limit", o.Throttled)
	}
	if got := testutil.ToFloat64(e.Metrics.RateLimitWaits.WithLabelValues("okta-acme", "okta", "acme", "share")); got == 0 {
		t.Error("no wait for the rate limit's share was counted")
	}
}

func TestFailuresAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  vendorfake.Fault
		status string
	}{
		{"429", vendorfake.Fault{Status: 429, Header: http.Header{"X-Rate-Limit-Reset": {fmt.Sprint(time.Now().Add(time.Second).Unix())}}, Body: `{"errorCode":"E0000047"}`}, "429"},
		{"503", vendorfake.Fault{Status: 503, Body: `{"errorCode":"E0000009","errorSummary":"Internal Server Error"}`}, "503"},
		{"malformed page", vendorfake.Fault{Malformed: true}, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, e := fake(t), collecttest.New(t)
			o.Add(events(0, 1500, time.Now())...)
			o.Fail(2, tc.fault)
			_, _ = e.Run(t, collect.Config{}, collector(t, o, e, nil))
			wantOnce(t, e, 1500)
			if got := testutil.ToFloat64(e.Metrics.APIErrors.WithLabelValues("okta-acme", "okta", "acme", tc.status)); got != 2 {
				t.Errorf("api_errors_total{status=%q} = %v, want 2", tc.status, got)
			}
		})
	}
}

func TestRevokedTokenIsReported(t *testing.T) {
	o, e := fake(t), collecttest.New(t)
	o.Add(events(0, 10, time.Now())...)
	r, _ := e.Run(t, collect.Config{}, collector(t, o, e, nil))
	wantOnce(t, e, 10)
	if err := r.Ready(context.Background()); err != nil {
		t.Fatalf("ready: %v", err)
	}
	o.Revoke(true)
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		err = r.Ready(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "refused (HTTP 401)") {
		t.Fatalf("ready after revocation: %v, want a refusal", err)
	}
	if strings.Contains(err.Error(), o.APIToken) {
		t.Fatal("the token is in the readiness error")
	}
	var buf bytes.Buffer // the metrics must not hold the token either
	mfs, _ := e.Reg.Gather()
	for _, mf := range mfs {
		buf.WriteString(mf.String())
	}
	if strings.Contains(buf.String(), o.APIToken) {
		t.Fatal("the token is in the metrics")
	}
	if got := testutil.ToFloat64(e.Metrics.APIErrors.WithLabelValues("okta-acme", "okta", "acme", "401")); got < 2 {
		t.Errorf("api_errors_total{status=401} = %v", got)
	}
	o.Revoke(false)
}

func TestOAuthTokenExpiry(t *testing.T) {
	o, e := fake(t), collecttest.New(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	o.ClientID, o.PublicKey = "0oa-scimwatch", key.Public()
	o.Add(events(0, 100, time.Now())...)
	col := collector(t, o, e, func(c *Config) {
		c.APITokenEnv = ""
		c.OAuth = &OAuth{ClientID: "0oa-scimwatch", PrivateKeyFile: keyFile, KeyID: "k1"}
		c.Defaults()
	})
	_, _ = e.Run(t, collect.Config{}, col)
	wantOnce(t, e, 100)
	issued := o.TokensIssued()
	o.ExpireTokens()
	o.Add(events(100, 100, time.Now())...)
	wantOnce(t, e, 200)
	if o.TokensIssued() <= issued {
		t.Fatal("no new token after the old one expired")
	}
}

func TestOAuthScopeNotGranted(t *testing.T) {
	o, e := fake(t), collecttest.New(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	o.ClientID, o.PublicKey, o.Scopes = "0oa-scimwatch", key.Public(), []string{"okta.users.read"}
	col := collector(t, o, e, func(c *Config) {
		c.APITokenEnv = ""
		c.OAuth = &OAuth{ClientID: "0oa-scimwatch", PrivateKeyFile: keyFile}
		c.Defaults()
	})
	r, _ := e.Run(t, collect.Config{}, col)
	var err error
	for deadline := time.Now().Add(10 * time.Second); err == nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		err = r.Ready(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("ready: %v, want the scope refused", err)
	}
}

func TestNextLinkElsewhereIsNotFollowed(t *testing.T) {
	s := &stream{base: "https://acme.okta.com"}
	for link, want := range map[string]bool{
		"https://acme.okta.com/api/v1/logs?after=1":          true,
		"https://evil.example/api/v1/logs?after=1":           false,
		"http://acme.okta.com/api/v1/logs?after=1":           false,
		"https://acme.okta.com/api/v1/users?after=1":         false,
		"https://acme.okta.com.evil.example/api/v1/logs?a=1": false,
	} {
		if got := s.sameOrigin(link); got != want {
			t.Errorf("sameOrigin(%s) = %v", link, got)
		}
	}
	for h, want := range map[string]string{
		`<https://a/api/v1/logs?x=1>; rel="self", <https://a/api/v1/logs?after=2>; rel="next"`: "https://a/api/v1/logs?after=2",
		`<https://a/api/v1/logs?x=1>; rel="self"`:                                              "",
		`garbage; rel="next"`:     "",
		`<https://a/n>; REL=next`: "https://a/n",
	} {
		if got := nextLink(h); got != want {
			t.Errorf("nextLink(%s) = %q, want %q", h, got, want)
		}
	}
}

// TestRealRecordsUnchanged: Okta System Log events written by others, with
// their quirks (null or absent targets, lower-cased keys, times without a
// zone, no uuid), served by the fake Okta, all reach Kafka byte for byte.
// (The samples reuse uuids, which Okta never does: a reused one may be
// produced once or again, a repeat downstream.)
func TestRealRecordsUnchanged(t *testing.T) {
	b, err := os.ReadFile("testdata/okta-systemlog.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	o, e := fake(t), collecttest.New(t)
	served := map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		o.Add(line)
		served[string(line)] = true
	}
	_, _ = e.Run(t, collect.Config{}, collector(t, o, e, func(c *Config) { c.Limit = 20 }))
	e.WantValues(t, served)
}

// TestKafkaOutageIsReported: with Kafka gone, the collector's poll waits
// to produce (its cursor does not move) and /readyz says so once it has
// lasted stale_after.
func TestKafkaOutageIsReported(t *testing.T) {
	o, e := fake(t), collecttest.New(t)
	o.Add(events(0, 10, time.Now())...)
	r, _ := e.Run(t, collect.Config{StaleAfter: 500 * time.Millisecond}, collector(t, o, e, nil))
	wantOnce(t, e, 10)
	if err := r.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.Stop()
	o.Add(events(10, 10, time.Now())...)
	var err error
	for deadline := time.Now().Add(30 * time.Second); err == nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		err = r.Ready(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "to Kafka") {
		t.Fatalf("ready with Kafka gone: %v", err)
	}
}
