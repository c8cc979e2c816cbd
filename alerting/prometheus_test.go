package alerting

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/internal/testenv"
)

// TestPrometheusScrapes: Debian's Prometheus scrapes the notifier's
// /metrics and sees what it counted.
func TestPrometheusScrapes(t *testing.T) {
	promURL, targets := testenv.Prometheus(t)
	h := start(t, fast(), nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := &http.Server{Handler: h.n.Handler(h.reg, nil), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	run := testenv.Name("run")
	sd, _ := json.Marshal([]map[string]any{{"targets": []string{l.Addr().String()}, "labels": map[string]string{"run": run}}})
	must(t, os.WriteFile(targets, sd, 0o644))
	defer os.WriteFile(targets, []byte("[]"), 0o644) //nolint:errcheck // best effort

	must(t, h.n.Alert(alert("p1", "privileged-role-grant", "high", "mallory", 1, detect.StatusFiring)))
	waitFor(t, "the notification", func() bool { return len(h.recv.notifications()) == 1 })
	query := fmt.Sprintf(`scimwatch_alerting_notifications_total{integration="fake",result="sent",run=%q}`, run)
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, err := promQuery(promURL, query)
		if err == nil && v == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape %s: %q, %v", query, v, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// promQuery returns the value of an instant query's first sample.
func promQuery(base, q string) (string, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if len(out.Data.Result) == 0 {
		return "", fmt.Errorf("no sample")
	}
	return fmt.Sprint(out.Data.Result[0].Value[1]), nil
}
