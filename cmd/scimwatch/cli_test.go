package main

import (
	"strings"
	"testing"
)

// TestEveryCommandHasHelp: every command's --help exits 0 and says what it
// does, its usage with its arguments, its flags with defaults, and an
// example; a mistake exits 2 and points to --help.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			args := append(strings.Fields(c.name), "--help")
			code, out, errs := runCLI(t, "", args...)
			if code != 0 || errs != "" {
				t.Fatalf("--help: exit %d, stderr %q", code, errs)
			}
			_, example, _ := strings.Cut(out, "\nExample:\n")
			if !strings.HasPrefix(out, "Usage:\n  scimwatch "+c.name) || !strings.Contains(example, "scimwatch "+c.name) {
				t.Errorf("--help lacks the usage or an example of scimwatch %s:\n%s", c.name, out)
			}
			if c.name != "version" && !strings.Contains(out, "\nFlags:\n  --") {
				t.Errorf("--help lists no flags:\n%s", out)
			}
			if help, _, _ := runCLI(t, "", append([]string{"help"}, strings.Fields(c.name)...)...); help != 0 {
				t.Errorf("scimwatch help %s: exit %d", c.name, help)
			}
			code, _, errs = runCLI(t, "", append(strings.Fields(c.name), "--no-such-flag")...)
			if code != 2 || !strings.Contains(errs, "Run 'scimwatch "+c.name+" --help'") {
				t.Errorf("a bad flag: exit %d, stderr %q", code, errs)
			}
		})
	}
	if code, out, _ := runCLI(t, "", "--help"); code != 0 || !strings.Contains(out, "rules lint") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "", "--version"); code != 0 || !strings.HasPrefix(out, "scimwatch ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, "", "rules"); code != 2 || !strings.Contains(errs, "want a subcommand") {
		t.Errorf("rules alone: %d %q", code, errs)
	}
}

// TestRulesFlagErrors: what is wrong with the rules names the path.
func TestRulesFlagErrors(t *testing.T) {
	in := writeFile(t, "in.ndjson", "")
	empty := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "--rules", "/nonexistent", in}, "scimwatch replay: rules /nonexistent: no such file or directory"},
		{[]string{"replay", "--rules", empty, in}, "scimwatch replay: rules " + empty + ": no rules found"},
		{[]string{"rules", "lint", empty}, "rules " + empty + ": no rules found"},
		{[]string{"replay", in}, "--rules is required"},
	} {
		code, _, errs := runCLI(t, "", tt.args...)
		if code == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, errs, tt.want)
		}
	}
}

// TestBenchFailsFast: with no Kafka or ClickHouse to talk to, bench ingest
// says so at once and how to start them (it once waited silently).
func TestBenchFailsFast(t *testing.T) {
	code, _, errs := runCLI(t, "", "bench", "ingest", "--brokers", "127.0.0.1:1", "--clickhouse", "127.0.0.1:1", "--count", "10")
	for _, want := range []string{"kafka at 127.0.0.1:1 does not answer", "clickhouse at 127.0.0.1:1 does not answer", "./.ci/services.sh start"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q: %q", want, errs)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}
