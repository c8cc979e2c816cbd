package detect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
)

func TestReloadKeepsLastGoodRules(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) {
		t.Helper()
		p := filepath.Join(dir, "r.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		// Make the change visible to the fingerprint whatever the clock's resolution.
		_ = os.Chtimes(p, time.Now(), time.Now().Add(time.Duration(len(body))*time.Second))
	}
	rule := func(id, action string) string {
		return "rules:\n  - id: " + id + "\n    title: T\n    severity: low\n    when: action == \"" + action + "\"\n"
	}
	write(rule("deletes", "user.delete"))
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	var fired []string
	reg := prometheus.NewRegistry()
	e, _ := New(DefaultConfig(), set, SinkFunc(func(a Alert) error { fired = append(fired, a.Rule); return nil }), reg, nil)
	r := NewReloader([]string{dir}, rules.Options{}, e, time.Hour, reg, nil)
	if r.Changed() {
		t.Error("changed before any change")
	}

	write(rule("creates", "user.create"))
	if !r.Changed() {
		t.Fatal("a modified file was not seen")
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	write("rules:\n  - id: broken\n    when: actor.emial == 1\n")
	if !r.Changed() {
		t.Fatal("a modified file was not seen")
	}
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "emial") {
		t.Fatalf("bad rules: %v", err)
	}
	if testutil.ToFloat64(r.failures) != 1 || testutil.ToFloat64(r.success) != 0 {
		t.Errorf("failures %v, success %v", testutil.ToFloat64(r.failures), testutil.ToFloat64(r.success))
	}
	// The last good set (creates) still runs.
	now := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	for i, a := range []string{event.ActionUserCreate, event.ActionUserDelete} {
		e.Process(&event.Event{ID: a, Time: now.Add(time.Duration(i) * time.Second), Action: a})
	}
	e.Flush()
	if strings.Join(fired, ",") != "creates" {
		t.Errorf("fired %v, want the last good rule set's rule only", fired)
	}
}

// TestReloadOnSignal: SIGHUP, as delivered to Run's channel, reloads.
func TestReloadOnSignal(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.yaml")
	body := "rules:\n  - id: one\n    title: T\n    severity: low\n    when: action == \"user.delete\"\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(rules.Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	e, _ := New(DefaultConfig(), set, SinkFunc(func(Alert) error { return nil }), reg, nil)
	r := NewReloader([]string{dir}, rules.Options{}, e, time.Hour, reg, nil)
	body += "  - id: two\n    title: T\n    severity: low\n    when: action == \"user.create\"\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan os.Signal, 1)
	go r.Run(ctx, hup)
	hup <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(e.metrics.rules) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("rules not reloaded after SIGHUP")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
