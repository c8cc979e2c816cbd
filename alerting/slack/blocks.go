package slack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/slack-go/slack"

	"github.com/scimwatch/scimwatch/alerting"
)

// Action ids of the message's buttons, read back by the interaction
// endpoint. Each button's value is the notification's id.
const (
	actionAck           = "scimwatch_ack"
	actionFalsePositive = "scimwatch_false_positive"
	actionSilence       = "scimwatch_silence_actor"
)

var severityIcon = map[string]string{"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}

var statusText = map[string]string{
	alerting.StatusFiring:        "🚨 *Firing*",
	alerting.StatusAcknowledged:  "👀 *Acknowledged*",
	alerting.StatusResolved:      "✅ *Resolved*",
	alerting.StatusSilenced:      "🔕 *Silenced*",
	alerting.StatusFalsePositive: "🚫 *False positive*",
}

// message is what a notification looks like in Slack.
type message struct {
	text   string // the notification's fallback text, and what screen readers read
	blocks []slack.Block
}

// render builds the message of n. dashboard is the dashboard link
// template (nil: none); redact replaces personal data.
func render(n *alerting.Notification, dashboard *template.Template, redact bool) message {
	first := n.Alerts[0]
	r := redactor{on: redact}
	for _, a := range n.Alerts {
		r.learn(a.Actor)
		for _, t := range a.Targets {
			if typ, name, _ := strings.Cut(t, ": "); typ == "user" {
				r.learn(name) // people; roles, groups and apps are not personal data
			}
		}
	}
	status := n.Status()
	sev := n.Severity()
	title := r.text(first.Title)
	if len(n.Alerts) > 1 {
		title = fmt.Sprintf("%s (and %d more)", title, len(n.Alerts)-1)
	}
	header := truncate(fmt.Sprintf("%s %s · %s", severityIcon[sev], strings.ToUpper(sev), title), 150)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, header, true, false)),
		slack.NewContextBlock("status", mrkdwn(statusLine(n, status))),
	}
	count, firstAt, lastAt := 0, first.First, first.Last
	for _, a := range n.Alerts {
		count += a.Count
		if a.First.Before(firstAt) {
			firstAt = a.First
		}
		if a.Last.After(lastAt) {
			lastAt = a.Last
		}
	}
	fields := []*slack.TextBlockObject{
		mrkdwn("*Rule*\n`" + esc(first.Rule) + "`"),
		mrkdwn("*Tenant*\n" + esc(first.Tenant)),
		mrkdwn("*Actor*\n" + esc(r.value(first.Actor))),
		mrkdwn("*Targets*\n" + esc(targetsText(first.Targets, r))),
		mrkdwn(fmt.Sprintf("*Events*\n%d", count)),
		mrkdwn("*When (UTC)*\n" + timeRange(firstAt, lastAt)),
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(esc(r.text(first.Summary))), fields, nil))
	if len(n.Alerts) > 1 {
		var lines []string
		for i, a := range n.Alerts {
			if i == 10 {
				lines = append(lines, fmt.Sprintf("…and %d more", len(n.Alerts)-10))
				break
			}
			lines = append(lines, fmt.Sprintf("• %s — %d events, %s", esc(r.text(a.Title)), a.Count, strings.ReplaceAll(a.Status, "_", " ")))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil))
	}
	if first.Description != "" || first.Runbook != "" {
		text := esc(first.Description)
		if first.Runbook != "" {
			text += fmt.Sprintf("\n<%s|Runbook>", strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C").Replace(first.Runbook))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.TrimSpace(text)), nil, nil))
	}
	ctx := []slack.MixedElement{mrkdwn(fmt.Sprintf("Sample events: %s", esc(strings.Join(first.Events[:min(5, len(first.Events))], ", "))))}
	if len(first.Tags) > 0 {
		ctx = append(ctx, mrkdwn("Tags: "+esc(strings.Join(first.Tags, ", "))))
	}
	ctx = append(ctx, mrkdwn("Notification `"+n.ID+"` · alert `"+first.ID+"`"))
	blocks = append(blocks, slack.NewContextBlock("refs", ctx...))
	var buttons []slack.BlockElement
	if status == alerting.StatusFiring || status == alerting.StatusAcknowledged {
		if status == alerting.StatusFiring {
			ack := slack.NewButtonBlockElement(actionAck, n.ID, slack.NewTextBlockObject(slack.PlainTextType, "Acknowledge", false, false))
			ack.Style = slack.StylePrimary
			buttons = append(buttons, ack)
		}
		fp := slack.NewButtonBlockElement(actionFalsePositive, n.ID, slack.NewTextBlockObject(slack.PlainTextType, "False positive", false, false))
		fp.Style = slack.StyleDanger
		label := "Silence 24 h for this actor"
		if _, byActor := first.SilenceMatchers()["actor"]; !byActor {
			label = "Silence 24 h for this finding"
		}
		buttons = append(buttons, fp,
			slack.NewButtonBlockElement(actionSilence, n.ID, slack.NewTextBlockObject(slack.PlainTextType, label, false, false)))
	}
	if dashboard != nil && !redact { // the link would name the actor
		var b bytes.Buffer
		if dashboard.Execute(&b, linkFields(&first)) == nil && b.Len() > 0 {
			link := slack.NewButtonBlockElement("scimwatch_dashboard", n.ID, slack.NewTextBlockObject(slack.PlainTextType, "Dashboard", false, false))
			link.URL = b.String()
			buttons = append(buttons, link)
		}
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("actions", buttons...))
	}
	// The fallback text is what notifications and screen readers show, and
	// Slack parses it as mrkdwn: an actor named <!channel> must not reach it.
	text := fmt.Sprintf("[%s] %s: %s", strings.ToUpper(sev), strings.ReplaceAll(status, "_", " "), esc(title))
	return message{text: text, blocks: blocks}
}

// linkFields is the alert as the dashboard link template sees it: every
// value from the audit log query-escaped, so that an actor named
// "x&var-tenant=other" cannot point the link at another tenant.
func linkFields(a *alerting.Alert) *alerting.Alert {
	c := *a
	for _, f := range []*string{&c.ID, &c.Rule, &c.Severity, &c.Tenant, &c.Key, &c.GroupKey, &c.GroupID, &c.Actor, &c.Title, &c.Summary} {
		*f = url.QueryEscape(*f)
	}
	c.Targets = make([]string, len(a.Targets))
	for i, t := range a.Targets {
		c.Targets[i] = url.QueryEscape(t)
	}
	return &c
}

// statusLine says where the notification stands and who moved it.
func statusLine(n *alerting.Notification, status string) string {
	s := statusText[status]
	var by, at string
	for _, a := range n.Alerts {
		if a.Status == status && a.StatusBy != "" && a.StatusBy != "detect" && !a.StatusAt.IsZero() {
			by, at = a.StatusBy, a.StatusAt.UTC().Format("15:04 UTC")
		}
	}
	if by != "" {
		s += " by " + esc(by) + " at " + at
	}
	return s
}

// change says in a thread reply what changed since shown ("firing:20").
func change(n *alerting.Notification, shown string) string {
	count := 0
	for _, a := range n.Alerts {
		count += a.Count
	}
	status := n.Status()
	prevStatus, prevCount := parseShown(shown)
	var parts []string
	if n.Repeat && status == prevStatus && count == prevCount {
		parts = append(parts, fmt.Sprintf("Still firing, acknowledged by nobody: %d events.", count))
	}
	if count > prevCount {
		parts = append(parts, fmt.Sprintf("%d more events (%d in all).", count-prevCount, count))
	}
	if status != prevStatus {
		line := statusLine(n, status)
		if status == alerting.StatusResolved {
			line += ": no new events for the rule's period."
		}
		parts = append(parts, line)
	}
	return strings.Join(parts, " ")
}

func shownOf(n *alerting.Notification) string {
	count := 0
	for _, a := range n.Alerts {
		count += a.Count
	}
	return fmt.Sprintf("%s:%d", n.Status(), count)
}

func parseShown(s string) (string, int) {
	status, c, _ := strings.Cut(s, ":")
	var n int
	fmt.Sscan(c, &n)
	return status, n
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, truncate(s, 2900), false, false)
}

// esc escapes Slack's control characters in mrkdwn, so that a name in an
// audit log cannot become a mention (<!channel>) or a link.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func targetsText(targets []string, r redactor) string {
	if len(targets) == 0 {
		return "—"
	}
	var out []string
	for i, t := range targets {
		if i == 4 {
			out = append(out, fmt.Sprintf("and %d more", len(targets)-4))
			break
		}
		typ, name, _ := strings.Cut(t, ": ")
		if typ == "user" {
			name = r.value(name)
		}
		out = append(out, typ+": "+name)
	}
	return strings.Join(out, ", ")
}

func timeRange(a, b time.Time) string {
	if a.Equal(b) {
		return a.UTC().Format("2006-01-02 15:04:05")
	}
	if a.UTC().Format("2006-01-02") == b.UTC().Format("2006-01-02") {
		return a.UTC().Format("2006-01-02 15:04:05") + " – " + b.UTC().Format("15:04:05")
	}
	return a.UTC().Format("2006-01-02 15:04") + " – " + b.UTC().Format("2006-01-02 15:04")
}

var emailRE = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)

// redactor replaces personal data by a stable pseudonym: the same person
// reads the same in every message of a channel, and nobody's name or email
// is shown.
type redactor struct {
	on    bool
	known []string
}

func (r *redactor) learn(s string) {
	if s != "" && !slices.Contains(r.known, s) {
		r.known = append(r.known, s)
	}
}

func (r redactor) value(s string) string {
	if !r.on || s == "" {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return "person-" + hex.EncodeToString(h[:4])
}

func (r redactor) text(s string) string {
	if !r.on {
		return s
	}
	// Longest first, so that "bob@acme.com" goes before "bob".
	known := slices.Clone(r.known)
	slices.SortFunc(known, func(a, b string) int { return len(b) - len(a) })
	for _, k := range known {
		s = strings.ReplaceAll(s, k, r.value(k))
	}
	return emailRE.ReplaceAllStringFunc(s, r.value)
}
