package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNormalizeCommand(t *testing.T) {
	okta, err := os.ReadFile("../../ingest/source/okta/testdata/okta-systemlog.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(okta), "\n")
	good := writeFile(t, "good.ndjson", lines[107]+lines[4])                // user.create, role.grant
	mixed := writeFile(t, "mixed.ndjson", lines[107]+"garbage\n"+lines[40]) // good, junk, redacted time

	t.Run("good file", func(t *testing.T) {
		code, out, errs := runCLI(t, "", "normalize", "--tenant", "acme", good)
		if code != 0 || errs != "" {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
		var actions []string
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e struct{ Action, Tenant string }
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if e.Tenant != "acme" {
				t.Errorf("tenant %q", e.Tenant)
			}
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, ",") != "user.create,role.grant" {
			t.Errorf("actions %v, want input order", actions)
		}
	})
	t.Run("rejects are reported with file and line, the rest comes out", func(t *testing.T) {
		code, out, errs := runCLI(t, "", "normalize", mixed)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if n := strings.Count(out, "\n"); n != 1 {
			t.Errorf("%d events out, want 1", n)
		}
		for _, want := range []string{
			mixed + ":2: not a JSON object or array\n",
			mixed + `:3: okta: published: unrecognised time "redacted"` + "\n",
			"1 of 2 records rejected; 1 run of lines that are not JSON skipped",
		} {
			if !strings.Contains(errs, want) {
				t.Errorf("stderr %q lacks %q", errs, want)
			}
		}
	})
	t.Run("a truncated line is not the end of the input; binary is not records", func(t *testing.T) {
		trunc := writeFile(t, "trunc.ndjson", strings.TrimSuffix(lines[107], "}\n")+"\n"+lines[4])
		code, out, errs := runCLI(t, "", "normalize", trunc)
		if code != 1 || strings.Count(out, "\n") != 1 || !strings.Contains(errs, trunc+":1: truncated: the JSON value that starts on this line is never closed") {
			t.Errorf("exit %d, %d events, stderr %q", code, strings.Count(out, "\n"), errs)
		}
		bin := writeFile(t, "bin.dat", "\x7fELF\x02\x01\x01\x00\x00\x00\n\x00\xff\xfe garbage\n")
		code, _, errs = runCLI(t, "", "normalize", bin)
		if code != 1 || !strings.Contains(errs, bin+":1-2: binary data, not JSON") || strings.Contains(errs, "records rejected") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("stdin and forced source", func(t *testing.T) {
		code, out, errs := runCLI(t, lines[107], "normalize", "--source", "entra", "-")
		if code != 1 || out != "" || !strings.Contains(errs, "-:1: entra: not an Entra ID") {
			t.Errorf("exit %d, out %q, stderr %q", code, out, errs)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		code, _, errs := runCLI(t, "", "normalize", "/nonexistent.ndjson")
		if code != 1 || !strings.Contains(errs, "/nonexistent.ndjson: open") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		if code, _, errs := runCLI(t, "", "normalize", "--source", "ldap"); code != 2 || !strings.Contains(errs, `unknown source "ldap"`) {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
		if code, _, _ := runCLI(t, "", "frobnicate"); code != 2 {
			t.Errorf("unknown command: exit %d", code)
		}
		if code, _, _ := runCLI(t, ""); code != 2 {
			t.Errorf("no command: exit %d", code)
		}
	})
}

// TestGenerateThenNormalize: generated records all normalize.
func TestGenerateThenNormalize(t *testing.T) {
	code, recs, errs := runCLI(t, "", "generate", "--count", "500", "--seed", "3")
	if code != 0 || errs != "" || strings.Count(recs, "\n") != 500 {
		t.Fatalf("generate: exit %d, %d lines, stderr %q", code, strings.Count(recs, "\n"), errs)
	}
	code, out, errs := runCLI(t, recs, "normalize")
	if code != 0 || errs != "" || strings.Count(out, "\n") != 500 {
		t.Fatalf("normalize: exit %d, %d events, stderr %q", code, strings.Count(out, "\n"), errs)
	}
	if code, _, _ := runCLI(t, "", "generate", "--okta-share", "2"); code != 2 {
		t.Errorf("bad share: exit %d", code)
	}
}

func TestRulesCommands(t *testing.T) {
	if code, out, errs := runCLI(t, "", "rules", "lint", "../../rules/builtin"); code != 0 || out != "28 rules OK\n" {
		t.Errorf("lint builtin: %d %q %q", code, out, errs)
	}
	code, _, errs := runCLI(t, "", "rules", "lint", "../../rules/testdata/bad")
	if code != 1 || strings.Count(errs, "\n") < 9 || !strings.Contains(errs, "errors.yaml:5:17: type event.Actor has no field emial") {
		t.Errorf("lint bad: exit %d, stderr %q", code, errs)
	}
	// Once a Go stack trace and exit 2: a list named by an expression.
	if !strings.Contains(errs, `errors.yaml:29:29: in_list: the list name must be a quoted string`) || strings.Contains(errs, "goroutine") {
		t.Errorf("lint bad: stderr %q", errs)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, _ := runCLI(t, "", "rules", "test", "--junit", junit, "../../rules/builtin")
	if code != 0 || !strings.Contains(out, "68 passed, 0 failed") {
		t.Errorf("test builtin: %d %q", code, out)
	}
	if b, err := os.ReadFile(junit); err != nil || !strings.Contains(string(b), `<testsuite name="scimwatch rules" tests="68" failures="0">`) {
		t.Errorf("junit: %s %v", b, err)
	}

	// A failing case shows the rule, what happened and the events.
	dir := t.TempDir()
	rule := `rules:
  - id: wrong
    title: Wrong expectation
    severity: low
    when: action == "user.create"
    tests:
      - name: expects two
        events:
          - {id: e-1, time: "2026-11-20T03:00:00Z", action: user.create}
        alerts: 2
`
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "", "rules", "test", dir)
	for _, want := range []string{"FAIL wrong / expects two", "want 2 alerts, got 1 (events fired: e-1)", `event 1: {"id":"e-1"`, "0 passed, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}

func TestReplayCommand(t *testing.T) {
	// A burst of 22 group changes by one admin, one privileged grant, and a bad line.
	var b strings.Builder
	for i := 0; i < 22; i++ {
		fmt.Fprintf(&b, `{"id":"e%d","time":"2026-11-20T03:%02d:00.000Z","tenant":"acme","source":"okta","raw_type":"group.user_membership.add","action":"group.member.add","outcome":"success","actor":{"id":"admin","email":"admin@acme.com"}}`+"\n", i, i%10)
	}
	b.WriteString("garbage\n")
	b.WriteString(`{"uuid":"p1","published":"2026-11-20T04:00:00.000Z","eventType":"user.account.privilege.grant","actor":{"id":"admin","type":"User"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"privilegeGranted":"Super administrator"}}}` + "\n")
	in := writeFile(t, "day.ndjson", b.String())
	code, out, errs := runCLI(t, "", "replay", "--rules", "../../rules/builtin", in)
	if code != 1 || !strings.Contains(errs, in+":23: not a JSON object or array") || !strings.Contains(errs, "23 events, 2 alerts, 1 records rejected") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("alerts:\n%s", out)
	}
	// Alerts come out when final: the one-shot grant first, the burst when
	// its period ends.
	if !strings.Contains(lines[0], "bulk-role-change") {
		lines[0], lines[1] = lines[1], lines[0]
	}
	var bulk struct {
		Rule, Key, Title, Status, First string
		Count                           int
		Events                          []string
	}
	if err := json.Unmarshal([]byte(lines[0]), &bulk); err != nil {
		t.Fatal(err)
	}
	if bulk.Rule != "bulk-role-change" || bulk.Count != 22 || bulk.Key != "acme|admin" || bulk.Title != "admin@acme.com made 22 role or group membership changes within 10 minutes" ||
		len(bulk.Events) != 20 || bulk.Status != "resolved" || bulk.First != "2026-11-20T03:00:00.000Z" {
		t.Errorf("bulk alert %+v", bulk)
	}
	if !strings.Contains(lines[1], `"rule":"privileged-role-grant"`) {
		t.Errorf("second alert %s", lines[1])
	}
}

// TestFileTenant: --file-tenant names the tenant of one file's records that
// name none; a record that names its own keeps it; a file not given is an
// error.
func TestFileTenant(t *testing.T) {
	okta := "../../ingest/source/okta/testdata/vendor-shaped.ndjson"
	hook := "../../ingest/source/okta/testdata/event-hook.json"
	code, out, errs := runCLI(t, "", "normalize", "--tenant", "other", "--file-tenant", okta+"=initech", "--file-tenant", hook+"=ignored", okta, hook)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	tenants := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ Tenant string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		tenants[e.Tenant]++
	}
	if tenants["initech"] != 16 || tenants["ignored"] != 0 || tenants["other"] != 0 || len(tenants) != 2 {
		t.Errorf("tenants %v: want the 16 API records as initech and the hook's under its org", tenants)
	}
	code, _, errs = runCLI(t, "", "normalize", "--file-tenant", "nope.json=acme", okta)
	if code != 2 || !strings.Contains(errs, "--file-tenant names nope.json, which is not among the files") {
		t.Errorf("exit %d: %s", code, errs)
	}
}
