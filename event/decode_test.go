package event

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

var decodeCases = []string{
	`{"id":"e1","time":"2026-11-20T03:00:00.123Z","tenant":"acme","source":"okta","raw_type":"user.lifecycle.create","action":"user.create","outcome":"success","reason":"","actor":{"id":"a1","type":"user","name":"Ann","email":"a@acme.com","ip":"10.0.0.1","user_agent":"UA"},"targets":[{"id":"u1","type":"user","name":"","email":"u@acme.com"}],"changes":[{"field":"role","old":"","new":"admin"}],"correlation_id":"c1","raw":{"uuid":"e1","x":[1,2,{"y":"}"}]}}`,
	// Escapes, non-ASCII, U+2028, and a raw with strings that hold braces.
	`{"id":"e\"2","time":"2026-11-20T03:00:00.000Z","tenant":"é–\u00a0","source":"scim","raw_type":"PATCH /Users","action":"user.update","outcome":"failure","reason":"line\nbreak \u2028","actor":{"id":"","type":"app","name":"","email":"","ip":"","user_agent":""},"targets":[],"changes":[],"correlation_id":"","raw":{"s":"{[\"]}"}}`,
	// Keys out of order, extra keys, nulls, whitespace, another time form.
	`{ "raw": {"a": 1}, "extra": [1, {"b": null}], "time": "2026-11-20T04:00:00+01:00", "id": "e3", "targets": null, "actor": null, "changes": [ ], "action": "role.grant" }`,
	"{\n  \"id\": \"e4\",\n  \"time\": \"2026-11-20T03:00:00.5Z\",\n  \"raw\": null\n}",
	// Invalid: bad time, no time, raw not JSON, trailing garbage, wrong types.
	`{"id":"e5","time":"2026-11-31T03:00:00.000Z","raw":{}}`,
	`{"id":"e6","raw":{}}`,
	`{"id":"e7","time":"2026-11-20T03:00:00.000Z","raw":{"a":}}`,
	`{"id":"e8","time":"2026-11-20T03:00:00.000Z","raw":{}} x`,
	`{"id":8,"time":"2026-11-20T03:00:00.000Z","raw":{}}`,
	`{"id":"e9","time":"2026-11-20T03:00:00.000Z","targets":[{"id":1}],"raw":{}}`,
	`{"id":"e10","time":"2026-11-20T03:00:00.000Z","actor":{"id":"\ud83d\ude00"},"raw":{}}`,
	"{\"id\":\"e11\xff\",\"time\":\"2026-11-20T03:00:00.000Z\",\"raw\":{}}",
	// What the limits cut, as AppendJSON writes it, and off its form.
	`{"id":"e12","time":"2026-11-20T03:00:00.000Z","tenant":"acme","source":"okta","raw_type":"x","action":"user.create","outcome":"success","reason":"","actor":{"id":"","type":"","name":"","email":"","ip":"","user_agent":""},"targets":[],"changes":[],"correlation_id":"","trimmed":{"targets":199936,"time":"9999-12-31T23:59:59Z"},"raw":{}}`,
	`{"id":"e13","time":"2026-11-20T03:00:00.000Z","trimmed":{"strings":"x"},"raw":{}}`,
}

// TestDecodeAgreesWithUnmarshal: the fast decoder gives what the general
// JSON decoder gives, or the same failure, on the contract form and off it.
func TestDecodeAgreesWithUnmarshal(t *testing.T) {
	for _, c := range decodeCases {
		checkDecode(t, []byte(c))
	}
	// And on AppendJSON's own output.
	e := Event{ID: "x", Time: time.Date(2026, 11, 20, 3, 0, 0, 7e6, time.UTC), Tenant: "t\x01", Actor: Actor{Name: "\u2029"},
		Targets: []Target{{ID: "1", Type: TargetRole}}, Raw: []byte(`{"a":"b"}`)}
	b, err := e.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkDecode(t, bytes.TrimSpace(b))
	e.Trimmed = Trimmed{Changes: 3, Strings: 1, Time: "0001-01-01T00:00:00Z"}
	if b, err = e.AppendJSON(nil); err != nil {
		t.Fatal(err)
	}
	checkDecode(t, bytes.TrimSpace(b))
	var back Event
	if err := Decode(&back, b, RawSkip); err != nil || back.Trimmed != e.Trimmed {
		t.Errorf("trimmed round trip: %+v, %v", back.Trimmed, err)
	}
}

func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	var want Event
	werr := want.UnmarshalJSON(b)
	for _, mode := range []RawMode{RawCopy, RawAlias, RawSkip} {
		var got Event
		gerr := Decode(&got, b, mode)
		if mode == RawSkip && gerr == nil && werr != nil {
			// RawSkip does not read a raw that comes last: the record must
			// be what the general decoder reads with raw cut off.
			i := bytes.LastIndex(b, []byte(`"raw":`))
			if i < 0 {
				t.Fatalf("%s\nRawSkip read a record without raw that Unmarshal refuses: %v", b, werr)
			}
			cut := append(append([]byte{}, b[:i]...), `"raw":null}`...)
			var w Event
			err := w.UnmarshalJSON(cut)
			w.Raw = nil
			if err != nil || !reflect.DeepEqual(normalizeEmpty(got), normalizeEmpty(w)) {
				t.Fatalf("%s\nRawSkip read %#v; with raw cut off Unmarshal reads %#v, %v", b, got, w, err)
			}
			continue
		}
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%s\nmode %d: Decode error %v, Unmarshal error %v", b, mode, gerr, werr)
		}
		if gerr != nil {
			continue
		}
		w := want
		if mode == RawSkip {
			w.Raw = nil
		}
		if len(w.Raw) == 0 || string(w.Raw) == "null" {
			w.Raw, got.Raw = nil, nil
		}
		if !reflect.DeepEqual(normalizeEmpty(got), normalizeEmpty(w)) {
			t.Fatalf("%s\nmode %d:\n got %#v\nwant %#v", b, mode, got, w)
		}
	}
}

// normalizeEmpty treats nil and empty lists alike.
func normalizeEmpty(e Event) Event {
	if len(e.Targets) == 0 {
		e.Targets = nil
	}
	if len(e.Changes) == 0 {
		e.Changes = nil
	}
	return e
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
	})
}

func BenchmarkDecode(b *testing.B) {
	e := Event{ID: "062117d8-4bfe-e5a7-0ddb-35acdb0f1866", Time: time.Date(2026, 11, 20, 3, 0, 0, 7e6, time.UTC), Tenant: "acme",
		Source: SourceOkta, RawType: "user.session.start", Action: ActionUserLogin, Outcome: OutcomeSuccess,
		Actor:   Actor{ID: "00u00000000000003463", Type: ActorUser, Name: "dave 3463", Email: "dave.3463@example.com", IP: "159.159.172.4", UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
		Targets: []Target{{ID: "u1", Type: TargetUser, Email: "x@example.com"}}, CorrelationID: "8f7698107776fc0e3395",
		Raw: bytes.Repeat([]byte(`{"a":"bcdefghijklmnopqrstuvwxyz0123456789","n":[1,2,3]}`), 1)}
	raw := `{"uuid":"062117d8","published":"2026-11-02T08:00:00.026Z","eventType":"user.session.start","actor":{"id":"00u","type":"User","alternateId":"dave@example.com","displayName":"dave","detailEntry":null},"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","os":"Mac OS X","browser":"CHROME"},"zone":"null","device":"Computer","id":null,"ipAddress":"159.159.172.4","geographicalContext":{"city":"San Francisco","state":"California","country":"United States","postalCode":"94107","geolocation":{"lat":37.7,"lon":-122.4}}},"outcome":{"result":"SUCCESS","reason":null},"target":[],"transaction":{"type":"WEB","id":"8f7698107776fc0e3395","detail":{}},"debugContext":{"debugData":{"requestId":"abc","requestUri":"/api/v1/authn","threatSuspected":"false","url":"/api/v1/authn?"}},"legacyEventType":"core.user_auth.login_success","authenticationContext":{"authenticationStep":0,"externalSessionId":"xyz"},"securityContext":{"asNumber":123,"asOrg":"example","isp":"example","domain":"example.com","isProxy":false},"severity":"INFO","displayMessage":"User login to Okta","version":"0"}`
	e.Raw = []byte(raw)
	line, _ := e.AppendJSON(nil)
	line = bytes.TrimSpace(line)
	for _, m := range []struct {
		name string
		mode RawMode
	}{{"copy", RawCopy}, {"skip", RawSkip}} {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			var out Event
			for b.Loop() {
				if err := Decode(&out, line, m.mode); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			var out Event
			if err := out.UnmarshalJSON(line); err != nil {
				b.Fatal(err)
			}
		}
	})
}
