package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"strings"

	"github.com/scimwatch/scimwatch/detect/ruletest"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/service"
)

func rulesLintCmd(_ context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "rules lint", args: "DIR|FILE...",
		about: `Loads the rules files (every *.yaml and *.yml of each directory, with their
lists and macros), compiles and type-checks every expression against the
canonical event, and reports every mistake of every file at once, at
FILE:LINE:COLUMN. With --config, the overrides of the config file must
name threshold rules of the set. Exit status 1 if anything is wrong.`,
		example: `scimwatch rules lint rules/builtin my-rules/`})
	config := fs.String("config", "", "config `FILE` (run's will do): its calendar: and detect: are what the rules run with")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	_, set, code := loadForRules(c, fs, *config)
	if set == nil {
		return code
	}
	fmt.Fprintf(c.stdout, "%d rules OK\n", len(set.Rules))
	return 0
}

func rulesTestCmd(_ context.Context, c *cmdIO, args []string) int {
	fs := c.flags(help{name: "rules test", args: "DIR|FILE...",
		about: `Runs every rule's inline tests on the detection engine: each case's events,
in time order, must raise exactly the alerts it expects. A failure shows the
rule, the case, what happened and the events. --config gives the calendar and
thresholds the rules run with in production.`,
		example: `scimwatch rules test rules/builtin
scimwatch rules test --config detect/testdata/calendar.yaml detect/testdata/calendar`})
	config := fs.String("config", "", "config `FILE` (run's will do): its calendar: and detect: are what the rules run with")
	junit := fs.String("junit", "", "also write the results as JUnit XML to `FILE`")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	cfg, set, code := loadForRules(c, fs, *config)
	if set == nil {
		return code
	}
	stdout, stderr := c.stdout, c.stderr
	results := ruletest.Run(set, cfg.Detect)
	failed := 0
	for _, r := range results {
		if r.Passed() {
			fmt.Fprintf(stdout, "PASS %s / %s\n", r.Rule.ID, r.Case.Name)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s / %s (%s)\n", r.Rule.ID, r.Case.Name, r.Case.Origin)
		fmt.Fprintf(stdout, "     rule %s at %s\n", r.Rule.ID, r.Rule.Origin)
		if r.Err != nil {
			fmt.Fprintf(stdout, "     error: %v\n", r.Err)
		} else {
			fmt.Fprintf(stdout, "     want %d alerts, got %d (events fired: %s)\n", r.Case.Alerts, r.Got, strings.Join(r.Fired, ", "))
		}
		for i := range r.Events {
			b, _ := r.Events[i].MarshalJSON()
			fmt.Fprintf(stdout, "     event %d: %s\n", i+1, b)
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", len(results)-failed, failed)
	if *junit != "" {
		if err := writeJUnit(*junit, results); err != nil {
			fmt.Fprintln(stderr, "scimwatch rules test:", err)
			return 1
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// loadForRules loads the config and the rules of a rules
// command; a nil set means it failed, with code the exit status.
func loadForRules(c *cmdIO, fs *flagSet, config string) (service.Config, *rules.Set, int) {
	if fs.NArg() == 0 {
		return service.Config{}, nil, fs.fail("name rule directories or files")
	}
	cfg, ok := loadConfig(c, fs.help.name, config, service.UsesDetection)
	if !ok {
		return cfg, nil, 1
	}
	set, err := service.LoadRules(rules.Options{Calendar: cfg.Calendar}, fs.Args())
	if err == nil {
		err = cfg.Detect.CheckRules(set)
	}
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return cfg, nil, 1
	}
	return cfg, set, 0
}

type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Class   string        `xml:"classname,attr"`
	Name    string        `xml:"name,attr"`
	Failure *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(path string, results []rules.TestResult) error {
	s := junitSuite{Name: "scimwatch rules", Tests: len(results)}
	for _, r := range results {
		c := junitCase{Class: r.Rule.ID, Name: r.Case.Name}
		if !r.Passed() {
			s.Failures++
			msg := fmt.Sprintf("want %d alerts, got %d", r.Case.Alerts, r.Got)
			if r.Err != nil {
				msg = r.Err.Error()
			}
			c.Failure = &junitFailure{Message: msg, Text: r.Case.Origin}
		}
		s.Cases = append(s.Cases, c)
	}
	b, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), b...), 0o644)
}
