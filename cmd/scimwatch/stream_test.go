package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a command writing and a test
// reading at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// liveRun runs a command whose stdin stays open until the test closes it.
type liveRun struct {
	in       *io.PipeWriter
	out, err *syncBuffer
	code     chan int
}

func startLive(t *testing.T, args ...string) *liveRun {
	t.Helper()
	pr, pw := io.Pipe()
	l := &liveRun{in: pw, out: &syncBuffer{}, err: &syncBuffer{}, code: make(chan int, 1)}
	go func() { l.code <- run(context.Background(), args, pr, l.out, l.err) }()
	t.Cleanup(func() { pw.Close() })
	return l
}

func (l *liveRun) write(t *testing.T, lines ...string) {
	t.Helper()
	for _, s := range lines {
		if _, err := io.WriteString(l.in, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// waitOutput waits for the command's stdout to contain want, with the
// input still open: the condition asserted on, not a proxy for it.
func (l *liveRun) waitOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(l.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on stdout while the input is open; stdout %q, stderr %q", want, l.out.String(), l.err.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *liveRun) close(t *testing.T) int {
	t.Helper()
	l.in.Close()
	select {
	case c := <-l.code:
		return c
	case <-time.After(60 * time.Second):
		t.Fatal("the command did not end after its input closed")
		return -1
	}
}

func canonical(id, at, action, actor string, targets string) string {
	return fmt.Sprintf(`{"id":%q,"time":%q,"tenant":"acme","source":"okta","raw_type":"x","action":%q,"outcome":"success","actor":{"id":%q,"email":"%s@acme.com"},"targets":[%s]}`,
		id, at, action, actor, actor, targets)
}

// TestDetectAlertsAtOnceOnAQuietStream: one user created at 03:00 on a
// Saturday, and nothing after it: the alert comes while the input is still
// open, not when it closes (it once waited for a newer event).
func TestDetectAlertsAtOnceOnAQuietStream(t *testing.T) {
	l := startLive(t, "detect", "--rules", "../../rules/builtin", "--log-level", "error")
	l.write(t, canonical("c1", "2026-11-21T03:00:00.000Z", "user.create", "admin", `{"type":"user","id":"u-1"}`))
	l.waitOutput(t, `"rule":"off-hours-user-create"`)
	if code := l.close(t); code != 0 {
		t.Errorf("exit %d, stderr %s", code, l.err.String())
	}
}

// TestDetectSequenceOnAQuietStream: a create and a grant, and then
// silence: the sequence alert comes once a minute (allowed_lateness) of
// wall-clock time has passed, with the input still open.
func TestDetectSequenceOnAQuietStream(t *testing.T) {
	cfg := writeFile(t, "detect.yaml", "detect:\n  allowed_lateness: 2s\n")
	l := startLive(t, "detect", "--rules", "../../rules/builtin", "--config", cfg, "--log-level", "error")
	l.write(t,
		canonical("c1", "2026-11-20T10:00:00.000Z", "user.create", "admin", `{"type":"user","id":"u-1"}`),
		canonical("g1", "2026-11-20T10:05:00.000Z", "role.grant", "admin", `{"type":"user","id":"u-1"},{"type":"role","name":"Global Administrator"}`))
	l.waitOutput(t, `"rule":"create-then-privilege"`)
	l.close(t)
}

// TestDetectFutureEventDoesNotStopOrdering: after one event dated a year
// ahead, a grant delivered before its create (within the allowed
// lateness) still makes create-then-privilege.
func TestDetectFutureEventDoesNotStopOrdering(t *testing.T) {
	future := time.Now().AddDate(1, 0, 0).UTC().Format("2006-01-02T15:04:05.000Z")
	_, out, errs := runCLI(t, strings.Join([]string{
		canonical("f1", future, "user.update", "clock", ""),
		canonical("g1", "2026-11-20T10:05:30.000Z", "role.grant", "admin", `{"type":"user","id":"u-1"},{"type":"role","name":"Global Administrator"}`),
		canonical("c1", "2026-11-20T10:05:00.000Z", "user.create", "admin", `{"type":"user","id":"u-1"}`),
	}, "\n")+"\n", "detect", "--rules", "../../rules/builtin", "--log-level", "error")
	if !strings.Contains(out, `"rule":"create-then-privilege"`) {
		t.Errorf("no create-then-privilege alert; stdout %s stderr %s", out, errs)
	}
}

// TestReplayStreams: replay evaluates as it reads: an alert comes out while
// the input is still open (it once read and sorted the whole input first).
func TestReplayStreams(t *testing.T) {
	l := startLive(t, "replay", "--rules", "../../rules/builtin", "-")
	l.write(t, canonical("c1", "2026-11-21T03:00:00.000Z", "user.create", "admin", `{"type":"user","id":"u-1"}`))
	for i := 0; i < 100; i++ {
		l.write(t, canonical(fmt.Sprint("l", i), fmt.Sprintf("2026-11-21T03:%02d:00.000Z", i%60), "user.login", "u", ""))
	}
	l.waitOutput(t, `"rule":"off-hours-user-create"`)
	if code := l.close(t); code != 0 {
		t.Errorf("exit %d, stderr %s", code, l.err.String())
	}
}

// TestReplaySequenceFromANewerStart: create at 0, create at 50 min, grant at
// 70 min: within the hour from the second create.
func TestReplaySequenceFromANewerStart(t *testing.T) {
	in := writeFile(t, "seq.ndjson", strings.Join([]string{
		canonical("c1", "2026-11-20T10:00:00.000Z", "user.create", "admin", `{"type":"user","id":"u-1"}`),
		canonical("c2", "2026-11-20T10:50:00.000Z", "user.create", "admin", `{"type":"user","id":"u-1"}`),
		canonical("g1", "2026-11-20T11:10:00.000Z", "role.grant", "admin", `{"type":"user","id":"u-1"},{"type":"role","name":"Global Administrator"}`),
	}, "\n")+"\n")
	code, out, errs := runCLI(t, "", "replay", "--rules", "../../rules/builtin", in)
	if code != 0 || !strings.Contains(out, `"rule":"create-then-privilege"`) || !strings.Contains(out, `"events":["c2","g1"]`) {
		t.Errorf("exit %d, stdout %s, stderr %s", code, out, errs)
	}
}

// TestReplayRejectsOverridesOfUnknownRules: a typo in an override's rule id
// is an error, not a silently ignored threshold.
func TestReplayRejectsOverridesOfUnknownRules(t *testing.T) {
	cfg := writeFile(t, "detect.yaml", "detect:\n  overrides:\n    acme:\n      bulk-role-chnage: {count: 50}\n")
	in := writeFile(t, "in.ndjson", canonical("c1", "2026-11-20T10:00:00.000Z", "user.create", "admin", "")+"\n")
	code, _, errs := runCLI(t, "", "replay", "--rules", "../../rules/builtin", "--config", cfg, in)
	if code != 1 || !strings.Contains(errs, `overrides.acme.bulk-role-chnage: no rule has the id "bulk-role-chnage"`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	code, _, errs = runCLI(t, "", "rules", "lint", "--config", cfg, "../../rules/builtin")
	if code != 1 || !strings.Contains(errs, "bulk-role-chnage") {
		t.Errorf("lint: exit %d, stderr %q", code, errs)
	}
}

// TestDetectionConfigErrorsAtOnce: an unknown key does not hide the values
// that are wrong.
func TestDetectionConfigErrorsAtOnce(t *testing.T) {
	cfg := writeFile(t, "detect.yaml", "calendar:\n  default: {start: \"25:00\", end: \"19:00\"}\ndetect:\n  max_keys: -5\n  lateness: 1m\n")
	code, _, errs := runCLI(t, "", "rules", "lint", "--config", cfg, "../../rules/builtin")
	for _, want := range []string{"line 5: unknown key `lateness` in detect (did you mean `allowed_lateness`?)", "detect.max_keys: must be positive", `calendar: default: "25:00" is not HH:MM`} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q: %q", want, errs)
		}
	}
	if code != 1 || strings.Contains(errs, " in type ") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
