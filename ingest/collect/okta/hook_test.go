package okta

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/ingest/collect/collecttest"
	"github.com/scimwatch/scimwatch/internal/vendorfake"
)

func TestEventHook(t *testing.T) {
	e := collecttest.New(t)
	t.Setenv("HOOK_SECRET", "hook-secret-51c2")
	cfg := HookConfig{Tenant: "acme", Topic: e.Topic, Listen: "127.0.0.1:0", SecretEnv: "HOOK_SECRET", PlainHTTP: true, MaxBodyBytes: 64 << 10}
	cfg.Defaults()
	if errs := cfg.Validate("okta_hooks[0]"); len(errs) > 0 {
		t.Fatal(errs)
	}
	h, col, err := NewHook(cfg, e.Reg, collecttest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.Run(t, collect.Config{}, col)
	ctx, cancel := context.WithCancel(context.Background())
	addr, wait, err := h.Serve(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); wait() }()
	url := "http://" + addr + cfg.Path
	do := func(method, secret, body string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if secret != "" {
			req.Header.Set("Authorization", secret)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	at := time.Now() // a redelivery is the same events, byte for byte
	delivery := func(from, n int) string {
		var evs []string
		for i := from; i < from+n; i++ {
			evs = append(evs, string(vendorfake.OktaEvent(fmt.Sprintf("uuid-%06d-0000-0000", i), "user.lifecycle.create", "admin@acme.example", "new@acme.example", at)))
		}
		return `{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://acme.okta.com/api/v1/eventHooks/who8","eventId":"b5a188b9","data":{"events":[` + strings.Join(evs, ",") + `]},"eventTime":"2024-01-01T00:00:00.000Z","contentType":"application/json"}`
	}

	if code, body := do("GET", "hook-secret-51c2", "", map[string]string{"X-Okta-Verification-Challenge": "2S_Qz8mLSMFsPYyK"}); code != 200 || !strings.Contains(body, `"verification":"2S_Qz8mLSMFsPYyK"`) {
		t.Fatalf("verification: %d %s", code, body)
	}
	for _, secret := range []string{"", "hook-secret-51c", "hook-secret-51c2x", "Bearer hook-secret-51c2"} {
		if code, _ := do("POST", secret, delivery(0, 1), nil); code != 401 {
			t.Errorf("secret %q: %d, want 401", secret, code)
		}
	}
	if code, _ := do("GET", "wrong", "", map[string]string{"X-Okta-Verification-Challenge": "x"}); code != 401 {
		t.Errorf("a verification without the secret: %d, want 401", code)
	}
	if code, _ := do("POST", "hook-secret-51c2", delivery(0, 3), nil); code != 200 {
		t.Fatalf("delivery: %d", code)
	}
	// Okta delivers again what it did not see answered: a repeat.
	if code, _ := do("POST", "hook-secret-51c2", delivery(0, 3), nil); code != 200 {
		t.Fatalf("repeated delivery: %d", code)
	}
	if code, _ := do("POST", "hook-secret-51c2", delivery(3, 2), nil); code != 200 {
		t.Fatalf("delivery: %d", code)
	}
	if code, _ := do("POST", "hook-secret-51c2", `{"data":{"events":[{"uuid":`, nil); code != 400 {
		t.Errorf("a malformed delivery: %d, want 400", code)
	}
	if code, _ := do("POST", "hook-secret-51c2", delivery(10, 300), nil); code != 413 {
		t.Errorf("a delivery over max_body_bytes: %d, want 413", code)
	}
	if code, _ := do("DELETE", "hook-secret-51c2", "", nil); code != 405 {
		t.Errorf("DELETE: %d, want 405", code)
	}
	wantOnce(t, e, 5)
	for result, want := range map[string]float64{"delivered": 3, "verified": 1, "unauthorized": 5, "malformed": 1, "too_large": 1, "method": 1} {
		if got := testutil.ToFloat64(h.requests.WithLabelValues(cfg.Name, "acme", result)); got != want {
			t.Errorf("hook_requests_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}
