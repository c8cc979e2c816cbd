package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README is read by people who follow it step by step on a fresh clone:
// these tests hold it to the repository and to the CLI.

var (
	// repoPath matches a path into the repository's own folders.
	repoPath = regexp.MustCompile(`(?:^|[\s` + "`" + `(])((?:\./)?(?:\.ci|cmd|ingest|detect|rules|event|alerting|dashboards)/[\w./*-]*[\w*])`)
	// commandLine matches a scimwatch command line in a code block.
	commandLine = regexp.MustCompile(`(?:^|[;&|]\s*)(?:\./scimwatch|go run \./cmd/scimwatch|scimwatch)\s+([^|;&#>]*)`)
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeNamesOnlyFilesOfTheRepository: every path the README names in
// the repository's folders exists, and it names nothing outside them.
func TestReadmeNamesOnlyFilesOfTheRepository(t *testing.T) {
	text := readme(t)
	if strings.Contains(text, "../") {
		t.Errorf("the README names a path outside the repository: %q", text[strings.Index(text, "../")-20:strings.Index(text, "../")+40])
	}
	checked := 0
	for _, m := range repoPath.FindAllStringSubmatch(text, -1) {
		p := strings.TrimPrefix(m[1], "./")
		if strings.Contains(p, "NNNN") || strings.Contains(p, "<") {
			continue // a pattern, not a path
		}
		matches, err := filepath.Glob(filepath.Join("../..", p))
		if err != nil || len(matches) == 0 {
			t.Errorf("the README names %s, which the repository does not have", m[1])
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("only %d paths found: the pattern no longer reads the README", checked)
	}
}

// TestReadmeCommandsParse: every scimwatch command line in the README's
// code blocks names a command that exists, with flags it has.
func TestReadmeCommandsParse(t *testing.T) {
	text := readme(t)
	checked := 0
	blocks := strings.Split(text, "```")
	for i := 1; i < len(blocks); i += 2 { // inside the fences
		block := blocks[i]
		for _, line := range strings.Split(block, "\n") {
			for _, m := range commandLine.FindAllStringSubmatch(line, -1) {
				args := strings.Fields(m[1])
				if len(args) == 0 || strings.HasPrefix(args[0], "-") || strings.ToUpper(args[0]) == args[0] {
					continue // scimwatch --help, or a usage line: scimwatch COMMAND
				}
				cmd, rest := find(args)
				if cmd == nil {
					t.Errorf("README: %q: no such command", line)
					continue
				}
				// Its flags with their values, then --help: an unknown flag
				// exits 2, known ones 0.
				code, _, errs := runCLI(t, "", append(append(strings.Fields(cmd.name), flagsWithValues(rest)...), "--help")...)
				if code != 0 {
					t.Errorf("README: %q: %s", line, strings.TrimSpace(errs))
				}
				checked++
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d command lines found: the pattern no longer reads the README", checked)
	}
}

// flagsWithValues returns the flags of rest with the value after each that
// takes one, as the README wrote them.
func flagsWithValues(rest []string) []string {
	var out []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		out = append(out, a)
		if !strings.Contains(a, "=") && i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "-") && !boolFlag(a) {
			out = append(out, rest[i+1])
			i++
		}
	}
	return out
}

func boolFlag(name string) bool {
	switch strings.TrimLeft(name, "-") {
	case "help", "h", "notify":
		return true
	}
	return false
}
