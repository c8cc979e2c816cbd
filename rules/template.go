package rules

import (
	"bytes"
	"fmt"
	"io"
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
	// Row is the row of a scheduled rule's query that raised the alert:
	// {{.Row.email}}.
	Row map[string]any
	// Term is the combination a new_term rule had not seen, its fields'
	// values joined by " / ".
	Term string
	// Stats is what a baseline rule compared.
	Stats *Stats
}

// Stats is what a baseline rule compared, for its alert's text.
type Stats struct {
	// Observed is, for a rate, the key's events in the hour; for hours, the
	// key's (or tenant's) learned events at this hour ±1 on days of this
	// kind (workdays or weekend days).
	Observed int
	// Median, Low and High: a rate's expected count and range; High is
	// the most that does not fire (at least the rule's min_count − 1).
	Median, Low, High float64
	// Total and Share: for hours, the learned events and the share of them
	// at this hour on days of this kind.
	Total int
	Share float64
	// History is how much history the key (or tenant) has.
	History time.Duration
	// Basis is what was compared: the key's own history, or "tenant" when a
	// key with too little history was judged by its tenant's.
	Basis string
	// Hour is the hour in the tenant's time zone: "Sun 03:00".
	Hour string
	// Days is the kind of day hours compared: "workdays" or "weekend days".
	Days string
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
	// span renders a duration in days or weeks: "3 days", "6 weeks".
	"span": Span,
	// pct renders a share as a percentage: "0.4%".
	"pct": func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	// num renders a number without trailing zeros: 2, 2.5.
	"num": func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) },
	// date renders a row's time (or milliseconds since the epoch) as a UTC
	// date, "2026-08-01"; zero or absent as "never".
	"date": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			if !t.IsZero() && t.Unix() > 0 {
				return t.UTC().Format("2006-01-02")
			}
		case int:
			if t > 0 {
				return time.UnixMilli(int64(t)).UTC().Format("2006-01-02")
			}
		}
		return "never"
	},
	// datetime renders a row's time (or milliseconds since the epoch) to
	// the minute in UTC, "2026-08-01 14:03 UTC"; zero or absent as "never".
	"datetime": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			if !t.IsZero() && t.Unix() > 0 {
				return t.UTC().Format("2006-01-02 15:04 UTC")
			}
		case int:
			if t > 0 {
				return time.UnixMilli(int64(t)).UTC().Format("2006-01-02 15:04 UTC")
			}
		}
		return "never"
	},
}

// Span renders a duration in whole hours, days or weeks.
func Span(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 4*7*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	}
	return plural(int(d/(7*24*time.Hour)), "week")
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
// so that a misspelt field fails at load. A scheduled rule's text (rows)
// may name any column of .Row: its tests render it.
func parseText(text string, rows bool) (*Text, error) {
	if !strings.Contains(text, "{{") {
		return &Text{plain: text}, nil
	}
	t, err := template.New("").Funcs(templateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	if rows {
		// A row's columns are known once the query runs: the rule's tests
		// render its texts (Check).
		return &Text{tmpl: t}, nil
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, AlertData{Rule: &Rule{}, Event: &event.Event{}, Stats: &Stats{}}); err != nil {
		return nil, err
	}
	return &Text{tmpl: t}, nil
}

// Check renders the text from d and returns the error a template hits (a
// column a row lacks), which Render would show in the text.
func (t *Text) Check(d AlertData) error {
	if t == nil || t.tmpl == nil {
		return nil
	}
	return t.tmpl.Execute(io.Discard, d)
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

// parseDuration reads durations with day and week units too: "10m",
// "1h", "7d", "8w".
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("required")
	}
	for unit, size := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if d, ok := strings.CutSuffix(s, unit); ok {
			n, err := strconv.Atoi(d)
			if err != nil || n <= 0 || n > 100000 {
				return 0, fmt.Errorf("%q is not a duration", s)
			}
			return time.Duration(n) * size, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}
