package rules

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/scimwatch/scimwatch/event"
)

// AlertData is what title and summary templates see:
// {{.Event.Actor.Email}}, {{.Count}}, {{.Key}}, {{.First}}, {{.Last}}.
// Event is the event that opened the alert.
type AlertData struct {
	Rule        *Rule
	Event       *event.Event
	Count       int
	Key         string
	First, Last time.Time
}

var templateFuncs = template.FuncMap{
	"join": strings.Join,
	// targets renders the targets of one type: {{targets .Event "user"}}.
	"targets": func(e *event.Event, typ string) string {
		var out []string
		for _, t := range e.Targets {
			if t.Type == typ {
				out = append(out, firstNonEmpty(t.Email, t.Name, t.ID))
			}
		}
		return strings.Join(out, ", ")
	},
	// who renders the actor: email, else name, else id.
	"who": func(a event.Actor) string { return firstNonEmpty(a.Email, a.Name, a.ID, "unknown actor") },
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Text is a title or summary: a template, or plain text that needs no
// executing.
type Text struct {
	tmpl  *template.Template
	plain string
}

// parseText parses a title or summary and executes it once on empty data,
// so that a misspelt field fails at load.
func parseText(text string) (*Text, error) {
	if !strings.Contains(text, "{{") {
		return &Text{plain: text}, nil
	}
	t, err := template.New("").Funcs(templateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, AlertData{Rule: &Rule{}, Event: &event.Event{}}); err != nil {
		return nil, err
	}
	return &Text{tmpl: t}, nil
}

// Render fills the text from d.
func (t *Text) Render(d AlertData) string {
	if t == nil {
		return ""
	}
	if t.tmpl == nil {
		return t.plain
	}
	var buf bytes.Buffer
	if err := t.tmpl.Execute(&buf, d); err != nil {
		return fmt.Sprintf("(template error: %v)", err)
	}
	return buf.String()
}

// parseDuration reads durations with a day unit too: "10m", "1h", "7d".
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("required")
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}
