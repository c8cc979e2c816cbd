package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

func writeAlertingConfig(t *testing.T, api, store, extra string) string {
	t.Helper()
	os.Setenv("SCIMWATCH_TEST_SLACK_TOKEN", "xoxb-test")
	return writeFile(t, "detect.yaml", fmt.Sprintf(`http: {listen: "127.0.0.1:0"}
alerting:
  store: %s
  group_wait: 0s
  slack:
    api_url: %s
    token_env: SCIMWATCH_TEST_SLACK_TOKEN
    signing_secret_env: SCIMWATCH_TEST_SLACK_SECRET_UNSET
    channel: "#soc"
    routes:
      - {match: {severity: critical}, channel: "#soc-critical"}
%s`, store, api, extra))
}

// TestReplayNotify: replay --notify delivers through the configured
// integrations as production would: one message per notification, in its
// route's channel, and the offline NDJSON as before.
func TestReplayNotify(t *testing.T) {
	ws := fakeslack.Start()
	defer ws.Stop()
	cfg := writeAlertingConfig(t, ws.URL(), "memory", "")
	var in strings.Builder
	for i := 0; i < 22; i++ {
		in.WriteString(canonical(fmt.Sprint("b", i), fmt.Sprintf("2026-11-20T03:00:%02d.000Z", i), "role.grant", "mallory", `{"type":"user","id":"u-1"},{"type":"role","name":"Help Desk"}`) + "\n")
	}
	in.WriteString(canonical("s1", "2026-11-20T04:00:00.000Z", "role.grant", "eve", `{"type":"user","id":"eve"},{"type":"role","name":"Global Administrator"}`) + "\n")
	file := writeFile(t, "day.ndjson", in.String())
	code, out, errs := runCLI(t, "", "replay", "--rules", "../../rules/builtin", "--config", cfg, "--notify", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// The bulk change, and eve's grant to herself: privileged and self-granted.
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d alerts printed, want 3:\n%s", n, out)
	}
	soc, critical := ws.Messages("#soc"), ws.Messages("#soc-critical")
	var top []string
	for _, m := range append(soc, critical...) {
		if m.ThreadTS == "" {
			top = append(top, m.Channel+" "+m.Text)
		}
	}
	if len(top) != 3 || len(critical) != 1 || !strings.Contains(strings.Join(top, "\n"), "#soc [HIGH]") ||
		!strings.Contains(strings.Join(top, "\n"), "#soc-critical [CRITICAL] firing: eve@acme.com granted itself") {
		t.Errorf("messages:\n%s", strings.Join(top, "\n"))
	}
	if !strings.Contains(errs, "no signing secret") {
		t.Errorf("no warning that the buttons cannot work: %q", errs)
	}
	if code, _, errs := runCLI(t, "", "replay", "--rules", "../../rules/builtin", "--notify", file); code != 2 || !strings.Contains(errs, "--notify needs --config") {
		t.Errorf("--notify without alerting: %d %q", code, errs)
	}
}

// TestSilenceCommands: silences are added, listed and expired in the
// store the detector reads; and a silence mutes what replay --notify
// delivers.
func TestSilenceCommands(t *testing.T) {
	addr := testenv.ClickHouse(t)
	ws := fakeslack.Start()
	defer ws.Stop()
	db := testenv.Name("scimwatch_silences")
	cfg := writeAlertingConfig(t, ws.URL(), "clickhouse", fmt.Sprintf("clickhouse:\n  addrs: [%s]\n  database: %s\n", addr, db))
	t.Cleanup(func() { clickhouse.DropDatabase(mustCH(addr, db)) })
	code, out, errs := runCLI(t, "", "silence", "add", "--config", cfg, "--actor", "eve*", "--duration", "1h", "--author", "alice", "--comment", "CHG-42 role cleanup")
	if code != 0 || !strings.HasPrefix(out, "silence ") {
		t.Fatalf("add: %d %q %q", code, out, errs)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	code, out, _ = runCLI(t, "", "silence", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "actor=eve*") || !strings.Contains(out, "CHG-42 role cleanup") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	file := writeFile(t, "grant.ndjson", canonical("s1", "2026-11-20T04:00:00.000Z", "role.grant", "eve", `{"type":"user","id":"eve"},{"type":"role","name":"Global Administrator"}`)+"\n")
	if code, _, errs := runCLI(t, "", "replay", "--rules", "../../rules/builtin", "--config", cfg, "--notify", file); code != 0 {
		t.Fatalf("replay: %s", errs)
	}
	if n := len(ws.Messages("")); n != 0 {
		t.Errorf("%d messages posted for a silenced actor", n)
	}
	if code, out, _ := runCLI(t, "", "silence", "expire", "--config", cfg, id); code != 0 || !strings.Contains(out, "expired") {
		t.Fatalf("expire: %d %q", code, out)
	}
	if _, out, _ := runCLI(t, "", "silence", "list", "--config", cfg); strings.Contains(out, id) {
		t.Errorf("an expired silence is listed as active:\n%s", out)
	}
	if code, _, errs := runCLI(t, "", "silence", "add", "--config", cfg, "--actor", "x"); code != 2 || !strings.Contains(errs, "comment is required") {
		t.Errorf("add without a comment: %d %q", code, errs)
	}
	// A silence of a whole tenant is refused unless asked for as broad.
	if code, _, errs := runCLI(t, "", "silence", "add", "--config", cfg, "--tenant", "acme", "--actor", "*", "--comment", "quiet please"); code != 2 ||
		!strings.Contains(errs, "matches every alert of its tenant") {
		t.Errorf("add a broad silence: %d %q", code, errs)
	}
	code, out, errs = runCLI(t, "", "silence", "add", "--config", cfg, "--tenant", "acme", "--broad", "--duration", "1h", "--comment", "tenant cut-over CHG-77")
	if code != 0 || !strings.HasPrefix(out, "silence ") {
		t.Errorf("add a broad silence with --broad: %d %q %q", code, out, errs)
	}
}

func mustCH(addr, db string) clickhouse.Config {
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.Database = []string{addr}, db
	return cfg
}
