package main

import (
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/rules"
)

func rulesCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	usage := `Usage: scimwatch rules lint [--config FILE] DIR|FILE...
       scimwatch rules test [--config FILE] [--junit FILE] DIR|FILE...

lint loads and type-checks the rules and reports every error at once;
test runs every rule's inline tests on the engine.`
	if len(args) == 0 || args[0] != "lint" && args[0] != "test" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("rules "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "detection config (calendar: and detect:) the rules run with")
	var junit *string
	if args[0] == "test" {
		junit = fs.String("junit", "", "also write the results as JUnit XML to this file")
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage+"\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, err := loadDetectionConfig(*config)
	if err != nil {
		fmt.Fprintln(stderr, "scimwatch rules:", err)
		return 1
	}
	set, err := rules.Load(rules.Options{Calendar: cfg.Calendar}, fs.Args()...)
	if err == nil {
		err = cfg.Detect.CheckRules(set)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if args[0] == "lint" {
		fmt.Fprintf(stdout, "%d rules OK\n", len(set.Rules))
		return 0
	}
	results := set.RunTests(detect.TestEvaluator(cfg.Detect))
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
