// Package fakeslack is a Slack workspace for tests, demos and benchmarks:
// slack-go's slacktest server over real HTTP, with the Web API methods
// scimwatch uses answered as Slack answers them (chat.postMessage with
// threads and metadata, chat.update, conversations.history), every call
// recorded, and failures (429 with Retry-After, 5xx) injected on demand.
package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Message is a message in a channel.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // set on thread replies
	Text     string
	Blocks   json.RawMessage
	Metadata slack.SlackMetadata
	Edits    int
	// Broadcast: a thread reply also sent to the channel.
	Broadcast bool
}

// Call is one Web API call the workspace answered.
type Call struct {
	Method  string
	Channel string
	TS      string
	Text    string
	At      time.Time
	Status  int
}

// Workspace is a fake Slack workspace.
type Workspace struct {
	srv *slacktest.Server

	mu       sync.Mutex
	seq      int64
	messages []*Message
	calls    []Call
	failures []failure
	// OnCall, when set, is called with each call as it arrives, before it
	// is answered (the latency benchmark timestamps posts with it).
	OnCall func(Call)
}

type failure struct {
	status     int
	retryAfter int
}

// Start starts a workspace on 127.0.0.1.
func Start() *Workspace {
	w := &Workspace{}
	w.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", w.post)
		c.Handle("/chat.update", w.update)
		c.Handle("/conversations.history", w.history)
	})
	w.srv.Start()
	return w
}

// URL is the Web API's URL, for alerting.slack.api_url.
func (w *Workspace) URL() string { return w.srv.GetAPIURL() }

// Stop stops the server.
func (w *Workspace) Stop() { w.srv.Stop() }

// Fail makes the next calls fail with these HTTP statuses (429 with
// Retry-After retryAfter seconds).
func (w *Workspace) Fail(retryAfter int, statuses ...int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range statuses {
		w.failures = append(w.failures, failure{status: s, retryAfter: retryAfter})
	}
}

// Messages returns copies of the channel's messages ("" for all), in the
// order they were posted.
func (w *Workspace) Messages(channel string) []Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Message
	for _, m := range w.messages {
		if channel == "" || m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// Calls returns the calls answered so far.
func (w *Workspace) Calls() []Call {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

// begin records a call and reports whether to fail it, answering it so.
func (w *Workspace) begin(rw http.ResponseWriter, r *http.Request, method string) (url.Values, bool) {
	body, _ := io.ReadAll(r.Body)
	v, _ := url.ParseQuery(string(body))
	c := Call{Method: method, Channel: v.Get("channel"), TS: v.Get("ts"), Text: v.Get("text"), At: time.Now()}
	w.mu.Lock()
	var f *failure
	if len(w.failures) > 0 {
		f = &w.failures[0]
		w.failures = w.failures[1:]
		c.Status = f.status
	} else {
		c.Status = http.StatusOK
	}
	w.calls = append(w.calls, c)
	hook := w.OnCall
	w.mu.Unlock()
	if hook != nil {
		hook(c)
	}
	if f != nil {
		if f.status == http.StatusTooManyRequests {
			rw.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		}
		http.Error(rw, http.StatusText(f.status), f.status)
		return nil, false
	}
	return v, true
}

func reply(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(v)
}

func (w *Workspace) post(rw http.ResponseWriter, r *http.Request) {
	v, ok := w.begin(rw, r, "chat.postMessage")
	if !ok {
		return
	}
	if v.Get("channel") == "" {
		reply(rw, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	m := &Message{Channel: v.Get("channel"), ThreadTS: v.Get("thread_ts"), Text: v.Get("text"),
		Blocks: json.RawMessage(v.Get("blocks")), Broadcast: v.Get("reply_broadcast") == "true"}
	if md := v.Get("metadata"); md != "" {
		_ = json.Unmarshal([]byte(md), &m.Metadata)
	}
	w.mu.Lock()
	w.seq++
	m.TS = fmt.Sprintf("1764000000.%06d", w.seq)
	w.messages = append(w.messages, m)
	w.mu.Unlock()
	reply(rw, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS})
}

func (w *Workspace) update(rw http.ResponseWriter, r *http.Request) {
	v, ok := w.begin(rw, r, "chat.update")
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.messages {
		if m.Channel == v.Get("channel") && m.TS == v.Get("ts") {
			m.Text, m.Blocks = v.Get("text"), json.RawMessage(v.Get("blocks"))
			m.Edits++
			reply(rw, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
			return
		}
	}
	reply(rw, map[string]any{"ok": false, "error": "message_not_found"})
}

func (w *Workspace) history(rw http.ResponseWriter, r *http.Request) {
	v, ok := w.begin(rw, r, "conversations.history")
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var msgs []map[string]any
	for i := len(w.messages) - 1; i >= 0; i-- { // newest first, as Slack
		m := w.messages[i]
		if m.Channel != v.Get("channel") || m.ThreadTS != "" {
			continue
		}
		msg := map[string]any{"type": "message", "ts": m.TS, "text": m.Text}
		if v.Get("include_all_metadata") == "1" || v.Get("include_all_metadata") == "true" {
			msg["metadata"] = m.Metadata
		}
		msgs = append(msgs, msg)
	}
	reply(rw, map[string]any{"ok": true, "messages": msgs, "has_more": false})
}
