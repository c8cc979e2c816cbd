package slackview

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestPage renders a stored message: its header, fields, links and
// buttons, with Slack's escapes shown as the characters they stand for.
func TestPage(t *testing.T) {
	b, err := os.ReadFile("../testdata/firing.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	page, err := Page([]Message{{Blocks: m.Blocks, Time: "3:12 AM"}, {Blocks: m.Blocks, Time: "3:13 AM"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<div class="header">`, `<span class="button primary">`, "3:13 AM", "</body></html>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(page, `<div class="message">`) != 2 {
		t.Error("want two messages")
	}
	if _, err := Page([]Message{{Blocks: json.RawMessage(`{"not":"blocks"}`)}}); err == nil {
		t.Error("blocks that are not a list: no error")
	}
	if got := mrkdwn("*bold* `code` <https://x.example/a?b=1&amp;c|the link> &lt;tag&gt;"); !strings.Contains(got, "<b>bold</b>") ||
		!strings.Contains(got, "<code>code</code>") || !strings.Contains(got, `<a href="https://x.example/a?b=1&amp;c">the link</a>`) || !strings.Contains(got, "&lt;tag&gt;") {
		t.Errorf("mrkdwn: %s", got)
	}
}
