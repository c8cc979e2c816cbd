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
	"github.com/scimwatch/scimwatch/alerting/alertstore"
	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// openClickHouse is a migrated database of the test's own on the real
// server.
func openClickHouse(t *testing.T) *clickhouse.Store {
	t.Helper()
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs = []string{testenv.ClickHouse(t)}
	cfg.Database = testenv.Name("slack_test")
	s, err := clickhouse.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		s.Close()
	})
	return s
}

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
	return newInteractionsWith(t, actor, alerting.NewMemoryStore())
}

func newInteractionsWith(t testing.TB, actor Actor, requests Requests) *Interactions {
	cfg := testConfig("http://x/")
	cfg.SigningSecretEnv = "SCIMWATCH_TEST_SLACK_SECRET"
	h, err := NewInteractions(cfg, actor, requests, prometheus.NewRegistry(), nil)
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

// post sends a signed request to the endpoint over real HTTP.
func post(t *testing.T, url, body, stamp, sig string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestReplayIsRefusedHoweverWrittenAndAfterARestart: one signed request
// is applied once. Sent again with its signature's hex in capitals or in
// mixed case (Slack's check compares it without regard to case), it was
// taken as new and applied again; sent again after a restart, it was
// applied again too (the cache was in memory). Real HTTP requests, and the
// ClickHouse store that remembers requests across restarts.
func TestReplayIsRefusedHoweverWrittenAndAfterARestart(t *testing.T) {
	var db *clickhouse.Store
	stores := map[string]func(t *testing.T) Requests{
		"memory": func(*testing.T) Requests { return alerting.NewMemoryStore() },
		"clickhouse": func(t *testing.T) Requests {
			if db == nil {
				db = openClickHouse(t)
			}
			return alertstore.New(db)
		},
	}
	for _, name := range []string{"memory", "clickhouse"} {
		t.Run(name, func(t *testing.T) {
			act := &actions{}
			requests := stores[name](t)
			h := newInteractionsWith(t, act, requests)
			srv := httptest.NewServer(h)
			body := payload(actionAck, "n-"+name)
			stamp, sig := sign(testSecret, body, time.Now())
			hexSig := strings.TrimPrefix(sig, "v0=")
			mixed := []byte(hexSig)
			for i := range mixed {
				if i%2 == 0 {
					mixed[i] = strings.ToUpper(string(mixed[i]))[0]
				}
			}
			for _, tc := range []struct {
				sig  string
				want int
			}{{sig, 200}, {"v0=" + strings.ToUpper(hexSig), 401}, {"v0=" + string(mixed), 401}, {sig, 401}} {
				if code := post(t, srv.URL, body, stamp, tc.sig); code != tc.want {
					t.Errorf("signature %s: %d, want %d", tc.sig, code, tc.want)
				}
			}
			if n := testutil.ToFloat64(h.rejected.WithLabelValues("replayed")); n != 3 {
				t.Errorf("%v refused as replayed, want 3 (not as forged: the signatures are valid)", n)
			}
			srv.Close()
			// A restart: a new endpoint, the store made anew from the same
			// place (memory starts empty, and knows when it started).
			if name == "memory" {
				time.Sleep(time.Second) // the signed second is before the restart
				requests = alerting.NewMemoryStore()
			} else {
				requests = alertstore.New(db)
			}
			h = newInteractionsWith(t, act, requests)
			srv = httptest.NewServer(h)
			defer srv.Close()
			if code := post(t, srv.URL, body, stamp, sig); code != 401 || testutil.ToFloat64(h.rejected.WithLabelValues("replayed")) != 1 {
				t.Errorf("the same request after a restart: %d, want 401 as replayed", code)
			}
			// A new press after the restart is taken.
			stamp2, sig2 := sign(testSecret, body, time.Now().Add(time.Second))
			if code := post(t, srv.URL, body, stamp2, sig2); code != 200 {
				t.Errorf("a new press after the restart: %d, want 200", code)
			}
			if len(act.got) != 2 {
				t.Errorf("%d actions applied, want 2 (the first press, and the new one)", len(act.got))
			}
		})
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

// TestSilenceButtonOverHTTP: the Silence button pressed (a real HTTP
// request to the endpoint) on an alert whose actor is named "*" silences
// that actor only: a later critical grant by another actor is posted.
func TestSilenceButtonOverHTTP(t *testing.T) {
	ws := fakeslack.Start()
	defer ws.Stop()
	r := startRig(t, ws, alerting.NewMemoryStore())
	srv := httptest.NewServer(newInteractions(t, r.n))
	defer srv.Close()
	star := grant("s1", "acme", "high", 1, detect.StatusFiring)
	star.Actor = "*"
	must(t, r.n.Alert(star))
	waitFor(t, "the post", func() bool { top, _ := posts(ws, "#scimwatch"); return len(top) == 1 })
	top, _ := posts(ws, "#scimwatch")
	body := payload(actionSilence, top[0].Metadata.EventPayload["notification_id"].(string))
	stamp, sig := sign(testSecret, body, time.Now())
	if code := post(t, srv.URL, body, stamp, sig); code != 200 {
		t.Fatalf("silence press: %d", code)
	}
	critical := grant("c1", "acme", "critical", 1, detect.StatusFiring)
	critical.Rule, critical.Actor = "self-privilege-grant", "mallory@acme.com"
	must(t, r.n.Alert(critical))
	waitFor(t, "the critical grant by another actor, posted", func() bool { top, _ := posts(ws, "#sec-critical"); return len(top) == 1 })
	again := grant("s2", "acme", "high", 1, detect.StatusFiring)
	again.Actor, again.First = "*", t0.Add(time.Hour)
	must(t, r.n.Alert(again))
	store := r.store.(*alerting.MemoryStore)
	waitFor(t, "the actor named * silenced", func() bool {
		for _, c := range store.Changes() {
			if c.AlertID == "s2" && c.Status == alerting.StatusSilenced {
				return true
			}
		}
		return false
	})
	if top, _ := posts(ws, "#scimwatch"); len(top) != 1 {
		t.Errorf("%d posts in #scimwatch, want 1: the actor named * was silenced", len(top))
	}
}
