// Package alerting takes the detector's alerts to the people who act on
// them: it keeps each alert's lifecycle (firing, acknowledged, resolved,
// silenced, false positive) and its history, groups alerts into
// notifications, applies silences and inhibitions, and delivers to Slack
// and Alertmanager durably: an alert accepted is delivered after an outage
// or a restart, and never posted twice.
//
// The notifier is a pipeline in the spirit of Alertmanager's: accept
// (store first), inhibit, silence, group (group_wait, group_interval,
// repeat_interval), then each receiver, whose delivered state is kept in a
// notification log next to the alerts.
package alerting

import (
	"slices"
	"time"

	"github.com/scimwatch/scimwatch/detect"
)

// Alert statuses. firing and acknowledged are open; resolved, silenced
// and false_positive are closed.
const (
	StatusFiring        = "firing"
	StatusAcknowledged  = "acknowledged"
	StatusResolved      = "resolved"
	StatusSilenced      = "silenced"
	StatusFalsePositive = "false_positive"
)

// Alert is one alert's lifecycle, as stored and as shown.
type Alert struct {
	ID       string
	Rule     string
	Severity string
	Tenant   string
	Key      string // the detector's dedup key
	GroupKey string // the labels it is grouped by: "rule=x,tenant=y"
	GroupID  string // the notification it belongs to
	Status   string
	// Who changed the status last, when, and why (a person's name, "detect",
	// or a silence's id).
	StatusBy, StatusComment string
	StatusAt                time.Time
	First, Last             time.Time
	Count                   int
	Events                  []string // a bounded sample of event ids
	Title, Summary          string
	Description, Runbook    string
	Tags                    []string
	Actor                   string
	Targets                 []string
	// Resolved is true once detection resolved it (its period passed),
	// whatever a person said of it. OneShot alerts (simple rules without a
	// dedup period) never resolve by detection: a person closes them.
	Resolved, OneShot bool
	// Version counts the alert's changes.
	Version uint64
	// Observed is when the detector raised or last changed it: the start of
	// the notification latency.
	Observed time.Time
}

// Open reports whether the alert can still change by detection and needs
// people's attention.
func (a *Alert) Open() bool { return a.Status == StatusFiring || a.Status == StatusAcknowledged }

// Label returns the value of a label of the alert, for grouping, routing,
// silences and inhibition: rule, severity, tenant, actor, key, or a
// target.
func (a *Alert) Label(name string) string {
	switch name {
	case "rule":
		return a.Rule
	case "severity":
		return a.Severity
	case "tenant":
		return a.Tenant
	case "actor":
		return a.Actor
	case "key":
		return a.Key
	}
	return ""
}

// SilenceMatchers are the matchers of the silence a person asks for from
// this alert ("Silence 24 h" in Slack), each value literal: its actor in
// its tenant; for a scheduled rule's finding, whose actor is the rule
// itself (or for an alert with no actor), that finding only, by rule and
// key.
func (a *Alert) SilenceMatchers() Matchers {
	if a.Actor == "" || a.Actor == detect.ScheduledActor(a.Rule) {
		return Matchers{"tenant": Literal(a.Tenant), "rule": Literal(a.Rule), "key": Literal(a.Key)}
	}
	return Matchers{"tenant": Literal(a.Tenant), "actor": Literal(a.Actor)}
}

// fromDetect builds or updates a stored alert from what the detector says.
// It reports whether anything changed.
func (a *Alert) fromDetect(d *detect.Alert) bool {
	changed := a.ID == "" || a.Count != d.Count || !a.Last.Equal(d.Last) || a.Title != d.Title || a.Summary != d.Summary ||
		d.Status == detect.StatusResolved && !a.Resolved
	a.ID, a.Rule, a.Severity, a.Tenant, a.Key = d.ID, d.Rule, d.Severity, d.Tenant, d.Key
	a.First, a.Last, a.Count = d.First, d.Last, d.Count
	a.Events = slices.Clone(d.Events)
	a.Title, a.Summary, a.Description, a.Runbook = d.Title, d.Summary, d.Description, d.Runbook
	a.Tags, a.Actor, a.Targets = slices.Clone(d.Tags), d.Actor, slices.Clone(d.Targets)
	a.Observed = d.Observed
	a.OneShot = d.Final && d.Status == detect.StatusFiring
	if d.Status == detect.StatusResolved {
		a.Resolved = true
	}
	return changed
}

// Change is one status change of an alert, kept as its history.
type Change struct {
	AlertID, Tenant, Rule string
	Status                string
	By, Comment           string
	At                    time.Time
	Count                 int
}

func (a *Alert) change(status, by, comment string, at time.Time) Change {
	a.Status, a.StatusBy, a.StatusComment, a.StatusAt = status, by, comment, at
	a.Version++
	return Change{AlertID: a.ID, Tenant: a.Tenant, Rule: a.Rule, Status: status, By: by, Comment: comment, At: at, Count: a.Count}
}
