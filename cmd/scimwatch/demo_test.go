package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// TestDemo runs the README's main-job command for half a minute: history
// into ClickHouse, the service on the embedded broker, live traffic with
// attacks. Each kind of alert a newcomer should see appears, the Slack
// preview shows the messages, and it stops cleanly.
func TestDemo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{{"kafka", nil}, {"collectors", []string{"--collectors"}}} {
		t.Run(tc.name, func(t *testing.T) { testDemo(t, tc.extra...) })
	}
}

// testDemo runs the demo: with --collectors, the identity providers'
// records go through fake vendors and the collectors, and every attack
// still raises its alert.
func testDemo(t *testing.T, extra ...string) {
	chAddr := testenv.ClickHouse(t)
	db := testenv.Name("scimwatch_demo")
	t.Cleanup(func() { clickhouse.DropDatabase(mustCH(chAddr, db)) })
	wd, _ := os.Getwd()
	if err := os.Chdir("../.."); err != nil { // the demo reads rules/builtin
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	out := &syncBuffer{}
	errs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), append([]string{"demo", "--clickhouse", chAddr, "--database", db, "--days", "10", "--users", "60",
			"--inject-every", "1s", "--duration", "40s", "--http", "127.0.0.1:0", "--preview", "127.0.0.1:0"}, extra...), strings.NewReader(""), out, errs)
	}()
	// The preview, while it runs.
	preview := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/\n`)
	var page string
	for deadline := time.Now().Add(60 * time.Second); page == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		m := preview.FindStringSubmatch(out.String())
		if m == nil || !strings.Contains(out.String(), "!! ") {
			continue
		}
		resp, err := http.Get("http://" + m[1] + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `<div class="header">`) {
			page = string(b)
		}
	}
	if page == "" {
		t.Errorf("the Slack preview showed no message; output:\n%s", out.String())
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d:\n%s\n%s", code, out.String(), errs.String())
		}
	case <-time.After(120 * time.Second):
		t.Fatalf("the demo did not stop:\n%s", out.String())
	}
	text := out.String()
	// Every attack of the first round was injected (one a second, under
	// load too) and raised its alert; so did the accounts planted in the
	// history.
	injected := regexp.MustCompile(`>> attack injected: (\S+)`).FindAllStringSubmatch(text, -1)
	if len(injected) < len(synth.Scenarios) {
		t.Errorf("%d attacks injected in 40 s, want at least %d", len(injected), len(synth.Scenarios))
	}
	for _, rule := range append(slices.Clone(synth.Scenarios), "stale-account", "dormant-admin", "never-activated", "deprovision-overdue", "access-after-deprovision",
		"credential-not-rotated", "credential-used-after-revoke") {
		if !regexp.MustCompile(`!! \w+ +` + rule + ` `).MatchString(text) {
			t.Errorf("no %s alert in the demo's output", rule)
		}
	}
	if !strings.Contains(text, "stopped: ") || !strings.Contains(text, "history imported into ClickHouse") {
		t.Errorf("output:\n%s", text)
	}
	if len(extra) > 0 {
		// Each vendor's collector fetched what the simulator put in its log.
		m := regexp.MustCompile(`collected (\d+) records from the fake vendors`).FindStringSubmatch(text)
		if m == nil || m[1] == "0" {
			t.Errorf("no records collected")
		}
		for _, vendor := range []string{"okta acme", "okta globex", "graph initech", "workspace umbrella"} {
			if !regexp.MustCompile(strings.ReplaceAll(vendor, " ", ` +`) + ` +https://127\.0\.0\.1:\d+/`).MatchString(text) {
				t.Errorf("the demo names no %s fake vendor", vendor)
			}
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s\nstderr:\n%s", text, errs.String())
	}
}
