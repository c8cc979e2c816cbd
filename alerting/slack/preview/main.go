// Command preview renders scimwatch's Block Kit messages as an HTML page in
// Slack's look, for the README's pictures and for reviewing a message
// without a workspace:
//
//	go run ./alerting/slack/preview alerting/slack/testdata/firing.json > /tmp/firing.html
//	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=760,560 \
//	  --screenshot=alerting/slack/testdata/firing.png /tmp/firing.html
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/scimwatch/scimwatch/alerting/slack/slackview"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: preview MESSAGE.json > message.html")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var m struct {
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	page, err := slackview.Page([]slackview.Message{{Blocks: m.Blocks, Time: "3:12 AM"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(page)
}
