package scimgateway

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/collect/collecttest"
	"github.com/scimwatch/scimwatch/ingest/source/scim"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/internal/tlsconf"
)

// scimApp is a small SCIM 2.0 server of the test's own (RFC 7644): Users
// created, patched, listed and deleted, over TLS.
type scimApp struct {
	mu    sync.Mutex
	users map[string]map[string]any
	next  int
	seen  []string // Authorization headers it received
}

func (a *scimApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/scim+json")
	id := strings.TrimPrefix(r.URL.Path, "/scim/v2/Users")
	id = strings.TrimPrefix(id, "/")
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == "POST" && id == "":
		var u map[string]any
		if json.Unmarshal(body, &u) != nil {
			w.WriteHeader(400)
			return
		}
		a.next++
		u["id"] = fmt.Sprintf("u-%d", a.next)
		delete(u, "password")
		a.users[u["id"].(string)] = u
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(u)
	case r.Method == "PATCH" && a.users[id] != nil:
		_ = json.NewEncoder(w).Encode(a.users[id])
	case r.Method == "DELETE" && a.users[id] != nil:
		delete(a.users, id)
		w.WriteHeader(204)
	case r.Method == "GET" && id == "":
		list := []any{}
		for _, u := range a.users {
			list = append(list, u)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, "totalResults": len(list), "startIndex": 1, "itemsPerPage": len(list), "Resources": list})
	default:
		w.WriteHeader(404)
	}
}

func caFile(t *testing.T, s *httptest.Server) string {
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

type gw struct {
	url   string
	env   *collecttest.Env
	app   *scimApp
	g     *Gateway
	token string
}

func start(t *testing.T, upstreamCA func(*httptest.Server) string) *gw {
	app := &scimApp{users: map[string]map[string]any{}}
	up := httptest.NewTLSServer(app)
	t.Cleanup(up.Close)
	env := collecttest.New(t)
	cfg := Config{Listen: "127.0.0.1:0", PlainHTTP: true, Upstream: up.URL, UpstreamTLS: tlsconf.Config{CAFile: upstreamCA(up)},
		Tenant: "acme", App: "payroll", Topic: env.Topic,
		Rules: []Rule{
			{Name: "no-new-privileged-write", Deny: `any(new_attributes, # in ["roles", "entitlements", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:manager"])`},
			{Name: "no-bulk-read", Deny: `method == "GET" && resource == "Users" && id == "" && filter == "" && (count < 0 || count > 100)`},
		}}
	cfg.Defaults()
	if errs := cfg.Validate("scim_gateway"); len(errs) > 0 {
		t.Fatal(errs)
	}
	g, err := New(cfg, env.Client, prometheus.NewRegistry(), collecttest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, wait, err := g.Serve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); wait() })
	return &gw{url: "http://" + addr, env: env, app: app, g: g, token: "scim-bearer-9f8e7d6c5b4a"}
}

func (g *gw) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, g.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("User-Agent", "Okta SCIM Client 1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// records reads the request-log records in the topic.
func (g *gw) records(t *testing.T, n int) [][]byte {
	t.Helper()
	var out [][]byte
	deadline := time.Now().Add(20 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		out = g.env.Values(t)
		time.Sleep(50 * time.Millisecond)
	}
	if len(out) != n {
		t.Fatalf("%d records, want %d", len(out), n)
	}
	return out
}

func TestGatewayRecordsAndRefuses(t *testing.T) {
	g := start(t, func(s *httptest.Server) string { return caFile(t, s) })
	code, body := g.do(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dana@acme.example","name":{"formatted":"Dana Le"},"password":"Hunter2-secret!","active":true,"emails":[{"value":"dana@acme.example","primary":true}]}`)
	if code != 201 || !strings.Contains(body, `"id":"u-1"`) {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := g.do(t, "PATCH", "/scim/v2/Users/u-1", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}},{"op":"replace","path":"password","value":"An0ther-secret"}]}`); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	// A privileged attribute this client never wrote: refused.
	code, body = g.do(t, "PATCH", "/scim/v2/Users/u-1", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"roles","value":[{"value":"admin"}]}]}`)
	if code != 403 || !strings.Contains(body, "no-new-privileged-write") {
		t.Fatalf("a new privileged write: %d %s, want 403", code, body)
	}
	// A read of the whole directory: refused; a filtered one passes.
	if code, _ := g.do(t, "GET", "/scim/v2/Users?startIndex=1&count=1000", ""); code != 403 {
		t.Fatalf("a bulk read: %d, want 403", code)
	}
	if code, _ := g.do(t, "GET", `/scim/v2/Users?filter=userName+eq+%22dana%40acme.example%22`, ""); code != 200 {
		t.Fatalf("a filtered read: %d", code)
	}
	if code, _ := g.do(t, "DELETE", "/scim/v2/Users/u-1", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	recs := g.records(t, 6)
	fp := Fingerprint("Bearer " + g.token)
	var actions []string
	for _, rec := range recs {
		if strings.Contains(string(rec), g.token) || strings.Contains(string(rec), "Hunter2") || strings.Contains(string(rec), "An0ther") {
			t.Fatalf("a secret is in a record: %s", rec)
		}
		evs, err := scim.Normalizer{}.Normalize(nil, rec, "")
		if err != nil {
			t.Fatalf("%v: %s", err, rec)
		}
		for _, e := range evs {
			if e.Actor.ID != fp || e.Tenant != "acme" {
				t.Errorf("event %s: actor %q tenant %q, want %q acme", e.Action, e.Actor.ID, e.Tenant, fp)
			}
			actions = append(actions, e.Action+"/"+e.Outcome)
		}
	}
	for _, want := range []string{event.ActionUserCreate + "/success", event.ActionUserDeactivate + "/success", event.ActionUserDelete + "/success"} {
		found := false
		for _, a := range actions {
			found = found || a == want
		}
		if !found {
			t.Errorf("no %s among %v", want, actions)
		}
	}
	denied := 0
	for _, rec := range recs {
		var r struct {
			DeniedBy string `json:"denied_by"`
			Status   int    `json:"status"`
		}
		_ = json.Unmarshal(rec, &r)
		if r.DeniedBy != "" && r.Status == 403 {
			denied++
		}
	}
	if denied != 2 {
		t.Errorf("%d records of refused requests, want 2", denied)
	}
	if !strings.Contains(string(recs[0]), `"password":"***"`) {
		t.Errorf("the create's password is not masked: %s", recs[0])
	}
	// The app saw the client's own credential; the refused requests never
	// reached it.
	g.app.mu.Lock()
	defer g.app.mu.Unlock()
	if len(g.app.seen) != 4 || g.app.seen[0] != "Bearer "+g.token {
		t.Errorf("the app saw %d requests (%v), want the 4 allowed with the client's token", len(g.app.seen), g.app.seen)
	}
}

func TestGatewayUpstreamCertificateChecked(t *testing.T) {
	// The upstream's certificate is checked against upstream_tls: another
	// CA's is refused (502, recorded), never trusted.
	other := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(other, testenv.OtherCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	g := start(t, func(*httptest.Server) string { return other })
	if code, _ := g.do(t, "GET", "/scim/v2/Users?filter=x", ""); code != 502 {
		t.Fatalf("an upstream of an unknown CA: %d, want 502", code)
	}
	recs := g.records(t, 1)
	if !strings.Contains(string(recs[0]), `"status":502`) {
		t.Errorf("record %s", recs[0])
	}
}

func TestRulesThatCannotLoad(t *testing.T) {
	for _, deny := range []string{"", "method ==", `nosuch == 1`, `"a" + 1`, strings.Repeat("1 + ", 2000) + "1 > 0", "method"} {
		c := Config{Listen: "x", PlainHTTP: true, Upstream: "https://app", Tenant: "t", Topic: "t", Rules: []Rule{{Name: "r", Deny: deny}}}
		c.Defaults()
		errs := c.Validate("scim_gateway")
		if len(errs) == 0 {
			t.Errorf("deny %.40q loaded", deny)
		}
	}
}

// TestMethodLabelIsBounded: a client may send any token as its method;
// the requests metric keeps one series for all that are not SCIM's.
func TestMethodLabelIsBounded(t *testing.T) {
	g := start(t, func(s *httptest.Server) string { return caFile(t, s) })
	for i := range 20 {
		g.do(t, fmt.Sprintf("X-FLOOD-%d", i), "/scim/v2/Users/u-1", "")
	}
	if n := testutil.CollectAndCount(g.g.m.requests); n != 1 {
		t.Errorf("%d series after 20 made-up methods, want 1", n)
	}
	if got := testutil.ToFloat64(g.g.m.requests.WithLabelValues("other", "Users", "forwarded")); got != 20 {
		t.Errorf("requests{method=other} = %v, want 20", got)
	}
}
