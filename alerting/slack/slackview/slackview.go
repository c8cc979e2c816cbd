// Package slackview renders scimwatch's Slack messages (Block Kit) as HTML
// in Slack's look: for the README's pictures, the demo's alert preview,
// and reviewing a message without a workspace. It renders what scimwatch
// uses: header, section (text, fields), context and actions (buttons)
// blocks, with mrkdwn's bold, code and links.
package slackview

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
)

type text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type element struct {
	Type  string `json:"type"`
	Text  any    `json:"text"`
	Style string `json:"style"`
	URL   string `json:"url"`
}

type block struct {
	Type     string    `json:"type"`
	Text     *text     `json:"text"`
	Fields   []text    `json:"fields"`
	Elements []element `json:"elements"`
}

var (
	link = regexp.MustCompile(`<([^|>]+)\|([^>]+)>`)
	bold = regexp.MustCompile(`\*([^*\n]+)\*`)
	code = regexp.MustCompile("`([^`\n]+)`")
)

// mrkdwn turns Slack's mrkdwn into HTML: entities Slack escapes (&lt;) show
// as the characters they stand for, as Slack shows them.
func mrkdwn(s string) string {
	var out strings.Builder
	last := 0
	for _, m := range link.FindAllStringSubmatchIndex(s, -1) {
		out.WriteString(plain(s[last:m[0]]))
		fmt.Fprintf(&out, `<a href="%s">%s</a>`, html.EscapeString(html.UnescapeString(s[m[2]:m[3]])), plain(s[m[4]:m[5]]))
		last = m[1]
	}
	out.WriteString(plain(s[last:]))
	return strings.ReplaceAll(out.String(), "\n", "<br>")
}

func plain(s string) string {
	s = html.EscapeString(html.UnescapeString(s))
	s = code.ReplaceAllString(s, "<code>$1</code>")
	return bold.ReplaceAllString(s, "<b>$1</b>")
}

// Message is one message: its text and blocks as Slack takes them.
type Message struct {
	Blocks json.RawMessage
	// Time is shown beside the app's name ("3:12 AM").
	Time string
}

// Page renders messages, oldest first, as one HTML page.
func Page(msgs []Message) (string, error) {
	var out strings.Builder
	out.WriteString(`<!doctype html><html><head><meta charset="utf-8"><style>
body { font: 15px/1.46 "Lato", "Helvetica Neue", Arial, sans-serif; color: #1d1c1d; margin: 0; background: #fff; }
.message { display: flex; padding: 16px 20px; }
.avatar { width: 36px; height: 36px; border-radius: 4px; background: #4a154b; color: #fff; font-weight: 700; display: flex;
  align-items: center; justify-content: center; margin-right: 8px; flex: none; }
.name { font-weight: 900; } .app { font-size: 10px; background: #e8e8e8; color: #616061; padding: 1px 3px; border-radius: 2px; margin: 0 4px; }
.time { color: #616061; font-size: 12px; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0 4px; }
.context { font-size: 12px; color: #616061; margin: 4px 0; } .dot { margin: 0 4px; }
.section { margin: 4px 0; } .fields { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 16px; margin: 8px 0; }
code { font: 12px Monaco, Menlo, monospace; color: #e01e5a; background: #f6f6f6; border: 1px solid #e8e8e8; border-radius: 3px; padding: 1px 3px; }
a { color: #1264a3; text-decoration: none; }
.actions { margin: 10px 0 4px; } .button { display: inline-block; border: 1px solid #bbb; border-radius: 4px; padding: 3px 12px;
  font-size: 13px; font-weight: 700; margin-right: 8px; }
.button.primary { background: #007a5a; color: #fff; border-color: #007a5a; } .button.danger { color: #e01e5a; border-color: #e01e5a; }
</style></head><body>`)
	for _, m := range msgs {
		var blocks []block
		if len(m.Blocks) > 0 {
			if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
				return "", err
			}
		}
		fmt.Fprintf(&out, `<div class="message"><div class="avatar">sw</div><div><div><span class="name">scimwatch</span><span class="app">APP</span>
<span class="time">%s</span></div>%s</div></div>`, html.EscapeString(m.Time), render(blocks))
	}
	out.WriteString("</body></html>\n")
	return out.String(), nil
}

// render renders a message's blocks.
func render(blocks []block) string {
	var body strings.Builder
	for _, bl := range blocks {
		switch bl.Type {
		case "header":
			fmt.Fprintf(&body, `<div class="header">%s</div>`, html.EscapeString(bl.Text.Text))
		case "context":
			var parts []string
			for _, e := range bl.Elements {
				if t, ok := e.Text.(string); ok {
					parts = append(parts, mrkdwn(t))
				}
			}
			fmt.Fprintf(&body, `<div class="context">%s</div>`, strings.Join(parts, ` <span class="dot">·</span> `))
		case "section":
			if bl.Text != nil {
				fmt.Fprintf(&body, `<div class="section">%s</div>`, mrkdwn(bl.Text.Text))
			}
			if len(bl.Fields) > 0 {
				body.WriteString(`<div class="fields">`)
				for _, f := range bl.Fields {
					fmt.Fprintf(&body, `<div>%s</div>`, mrkdwn(f.Text))
				}
				body.WriteString(`</div>`)
			}
		case "actions":
			body.WriteString(`<div class="actions">`)
			for _, e := range bl.Elements {
				label := ""
				if t, ok := e.Text.(map[string]any); ok {
					label, _ = t["text"].(string)
				}
				fmt.Fprintf(&body, `<span class="button %s">%s</span>`, e.Style, html.EscapeString(label))
			}
			body.WriteString(`</div>`)
		}
	}
	return body.String()
}
