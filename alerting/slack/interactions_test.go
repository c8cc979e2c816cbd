package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/detect"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

func init() { os.Setenv("SCIMWATCH_TEST_SLACK_SECRET", testSecret) }

type actions struct {
	mu  sync.Mutex
	got []alerting.Action
}

func (a *actions) Act(_ context.Context, act alerting.Action) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, act)
	return nil
}

func newInteractions(t testing.TB, actor Actor) *Interactions {
	cfg := testConfig("http://x/")
	cfg.SigningSecretEnv = "SCIMWATCH_TEST_SLACK_SECRET"
	h, err := NewInteractions(cfg, actor, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// payload is a block_actions request body of a button press.
func payload(actionID, value string) string {
	p, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U024BE7LH", "name": "alice"},
		"actions": []map[string]any{{"action_id": actionID, "block_id": "actions", "value": value, "type": "button"}},
	})
	return url.Values{"payload": {string(p)}}.Encode()
}

// sign signs body at ts with secret, as Slack does.
func sign(secret, body string, ts time.Time) (string, string) {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + stamp + ":" + body))
	return stamp, "v0=" + hex.EncodeToString(m.Sum(nil))
}

func request(h http.Handler, body, stamp, sig string) int {
	r := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if stamp != "" {
		r.Header.Set("X-Slack-Request-Timestamp", stamp)
	}
	if sig != "" {
		r.Header.Set("X-Slack-Signature", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// TestInteractionSignatures: only requests signed with the signing secret,
// dated within five minutes, and not seen before reach the notifier.
func TestInteractionSignatures(t *testing.T) {
	act := &actions{}
	h := newInteractions(t, act)
	body := payload(actionAck, "n-1")
	stamp, sig := sign(testSecret, body, time.Now())
	otherBody := payload(actionFalsePositive, "n-1")
	oldStamp, oldSig := sign(testSecret, otherBody, time.Now().Add(-6*time.Minute))
	_, forgedSig := sign("not-the-secret", otherBody, time.Now())
	tests := []struct {
		name            string
		body, stamp, sg string
		want            int
		reason          string
	}{
		{"signed", body, stamp, sig, 200, ""},
		{"replayed", body, stamp, sig, 401, "replayed"},
		{"unsigned", otherBody, "", "", 401, "unsigned"},
		{"stale", otherBody, oldStamp, oldSig, 401, "stale"},
		{"forged", otherBody, stamp, forgedSig, 401, "forged"},
		{"body changed", otherBody, stamp, sig, 401, "forged"},
		{"not hex", otherBody, stamp, "v0=zz", 401, "unsigned"},
	}
	for _, tt := range tests {
		if code := request(h, tt.body, tt.stamp, tt.sg); code != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, code, tt.want)
		}
		if tt.reason != "" && testutil.ToFloat64(h.rejected.WithLabelValues(tt.reason)) == 0 {
			t.Errorf("%s: not counted as %s", tt.name, tt.reason)
		}
	}
	if len(act.got) != 1 || act.got[0].Kind != alerting.ActAck || act.got[0].GroupID != "n-1" || act.got[0].By != "U024BE7LH alice" {
		t.Errorf("actions applied %+v, want the signed one only", act.got)
	}
}

// FuzzInteractions: whatever arrives, the endpoint does not panic, and
// nothing unsigned reaches the notifier.
func FuzzInteractions(f *testing.F) {
	body := payload(actionAck, "n-1")
	stamp, sig := sign(testSecret, body, time.Now())
	f.Add(body, stamp, sig)
	f.Add("payload=%7B", stamp, "v0=00")
	f.Add("", "", "")
	f.Add(strings.Repeat("a", 2<<20), stamp, sig)
	f.Fuzz(func(t *testing.T, body, stamp, sig string) {
		act := &actions{}
		h := newInteractions(t, act)
		_ = request(h, body, stamp, sig)
		valid := false
		if s, want := sign(testSecret, body, time.Now()); s == stamp && want == sig {
			valid = true
		}
		if len(act.got) > 0 && !valid {
			t.Fatalf("an unsigned request reached the notifier: %q %q %q", body, stamp, sig)
		}
	})
}

// TestButtonsEndToEnd: pressing Acknowledge in Slack acknowledges the
// notification, says who did it, and edits the message.
func TestButtonsEndToEnd(t *testing.T) {
	ws := fakeslack.Start()
	defer ws.Stop()
	r := startRig(t, ws, alerting.NewMemoryStore())
	h := newInteractions(t, r.n)
	must(t, r.n.Alert(grant("b1", "acme", "high", 1, detect.StatusFiring)))
	waitFor(t, "the post", func() bool { top, _ := posts(ws, "#scimwatch"); return len(top) == 1 })
	top, _ := posts(ws, "#scimwatch")
	id := top[0].Metadata.EventPayload["notification_id"].(string)
	body := payload(actionAck, id)
	stamp, sig := sign(testSecret, body, time.Now())
	if code := request(h, body, stamp, sig); code != 200 {
		t.Fatalf("button press: %d", code)
	}
	waitFor(t, "the edit", func() bool {
		top, replies := posts(ws, "#scimwatch")
		return top[0].Edits == 1 && len(replies) == 1
	})
	top, replies := posts(ws, "#scimwatch")
	if !strings.Contains(string(top[0].Blocks), "Acknowledged* by U024BE7LH alice") || strings.Contains(string(top[0].Blocks), "scimwatch_ack\"") ||
		!strings.Contains(replies[0].Text, "Acknowledged* by U024BE7LH alice") {
		t.Errorf("after the ack: %s / %s", top[0].Blocks, replies[0].Text)
	}
}
