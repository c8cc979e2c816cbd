package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJSONContract pins the field names and forms of the JSON contract.
func TestJSONContract(t *testing.T) {
	e := Event{
		ID:     "id-1",
		Time:   time.Date(2026, 11, 24, 1, 2, 3, 456789000, time.FixedZone("CET", 3600)),
		Tenant: "acme", Source: SourceOkta, RawType: "user.lifecycle.create", Action: ActionUserCreate,
		Outcome: OutcomeSuccess,
		Actor:   Actor{ID: "a", Type: ActorUser, Name: "A", Email: "a@x", IP: "192.0.2.1", UserAgent: "ua"},
		Raw:     json.RawMessage(`{"k": "v"}`),
	}
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"action", "actor", "changes", "correlation_id", "id", "outcome", "raw", "raw_type", "reason", "source", "targets", "tenant", "time"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	if m["time"] != "2026-11-24T00:02:03.456Z" {
		t.Errorf("time = %v, want UTC with milliseconds", m["time"])
	}
	if !reflect.DeepEqual(m["targets"], []any{}) || !reflect.DeepEqual(m["changes"], []any{}) {
		t.Errorf("empty lists = %v %v, want []", m["targets"], m["changes"])
	}
	if !reflect.DeepEqual(m["raw"], map[string]any{"k": "v"}) {
		t.Errorf("raw = %v", m["raw"])
	}
	actor := m["actor"].(map[string]any)
	for _, k := range []string{"id", "type", "name", "email", "ip", "user_agent"} {
		if _, ok := actor[k]; !ok {
			t.Errorf("actor has no %q", k)
		}
	}

	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(e.Time.Truncate(time.Millisecond)) || back.ID != e.ID || back.Actor != e.Actor || back.Action != e.Action {
		t.Errorf("round trip = %+v", back)
	}
	line, err := e.AppendJSON([]byte("x"))
	if err != nil || string(line) != "x"+string(b)+"\n" {
		t.Errorf("AppendJSON = %q, %v", line, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"id":"x"}`:                    "canonical event: missing time",
		`{"id":"x","time":"yesterday"}`: "canonical event: time",
	} {
		var e Event
		err := json.Unmarshal([]byte(in), &e)
		if err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

func TestVocabulary(t *testing.T) {
	// The contract only adds: version 1's 24 actions stay, in order.
	v1 := []string{"user.create", "user.update", "user.activate", "user.reactivate", "user.deactivate", "user.suspend",
		"user.unsuspend", "user.delete", "user.login", "user.password_reset", "user.mfa_reset", "group.create",
		"group.update", "group.delete", "group.member.add", "group.member.remove", "role.grant", "role.revoke",
		"app.assign", "app.unassign", "app.provision", "credential.create", "credential.revoke", "other"}
	if len(Actions) != 39 || VocabularyVersion != 2 || !slices.Equal(Actions[:24], v1) {
		t.Errorf("%d actions, version %d: want version 1's 24 first, then version 2's 15", len(Actions), VocabularyVersion)
	}
	seen := map[string]bool{}
	for _, a := range Actions {
		if seen[a] {
			t.Errorf("%q twice", a)
		}
		seen[a] = true
	}
	for _, a := range Actions {
		if !ValidAction(a) {
			t.Errorf("%q is not valid", a)
		}
	}
	if ValidAction("user.created") {
		t.Error("user.created is valid")
	}
	e := Event{Targets: []Target{{Type: TargetUser, ID: "u"}, {Type: TargetRole, ID: "r"}}}
	if got := e.TargetOfType(TargetRole); got == nil || got.ID != "r" {
		t.Errorf("TargetOfType(role) = %v", got)
	}
	if e.TargetOfType(TargetGroup) != nil {
		t.Error("TargetOfType(group) found one")
	}
}

// TestAppendString checks the string encoder against encoding/json, which
// is the reference for what JSON parsers read back.
func TestAppendString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "new\nline\r\ttab", "\x00\x01\x1f\x7f",
		"unicode é 日本 🎉", "bad \xff utf8 \xc3", "line\u2028sep\u2029", "</script>&",
	} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q encodes to invalid JSON %s: %v", s, got, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
}

func TestRawForms(t *testing.T) {
	e := Event{ID: "x", Raw: json.RawMessage("{\n  \"a\": [1, 2]\n}")}
	b, err := e.AppendJSON(nil)
	if err != nil || bytes.Count(b, []byte("\n")) != 1 || !bytes.Contains(b, []byte(`"raw":{"a":[1,2]}}`)) {
		t.Errorf("multi-line raw: %s, %v", b, err)
	}
	e.Raw = json.RawMessage(`{"a": [1, 2]}`)
	if b, _ := e.AppendJSON(nil); !bytes.Contains(b, []byte(`"raw":{"a": [1, 2]}}`)) {
		t.Errorf("one-line raw is not kept as it came: %s", b)
	}
	e.Raw = json.RawMessage("{\n\"a\":")
	if _, err := e.AppendJSON(nil); err == nil {
		t.Error("invalid multi-line raw encoded")
	}
}
