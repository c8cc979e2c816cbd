package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/normtest"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
		err  string
	}{
		{"Okta LogEvent", normtest.Line(t, "okta/testdata/okta-systemlog.ndjson", 5), event.SourceOkta, ""},
		{"Okta lower-cased keys", normtest.Line(t, "okta/testdata/okta-systemlog.ndjson", 7), event.SourceOkta, ""},
		{"Okta Event Hook", readFile(t, "okta/testdata/event-hook.json"), event.SourceOkta, ""},
		{"Entra Azure Monitor audit", normtest.Line(t, "entra/testdata/entra-azure-monitor.ndjson", 41), event.SourceEntra, ""},
		{"Entra Azure Monitor sign-in", normtest.Line(t, "entra/testdata/entra-azure-monitor.ndjson", 12), event.SourceEntra, ""},
		{"Entra Graph list", readFile(t, "entra/testdata/graph-directoryaudits.json"), event.SourceEntra, ""},
		{"Entra Graph provisioning", normtest.Line(t, "entra/testdata/provisioning.ndjson", 1), event.SourceEntra, ""},
		{"Event Hubs batch", readFile(t, "entra/testdata/eventhubs-batch.json"), event.SourceEntra, ""},
		{"SCIM request log", normtest.Line(t, "scim/testdata/requests.ndjson", 5), event.SourceSCIM, ""},
		{"canonical event", []byte(`{"id":"x","time":"2026-11-20T03:00:00.000Z","tenant":"t","source":"okta","raw_type":"user.lifecycle.create","action":"user.create"}`), SourceCanonical, ""},
		{"Google Workspace activity", normtest.Line(t, "gworkspace/testdata/vendor-shaped.ndjson", 1), event.SourceGWorkspace, ""},
		{"Google Workspace flattened, no kind", []byte(`{"actor":{"email":"a@b.c"},"id":{"applicationName":"login","time":"2022-12-11T02:57:48Z"},"name":"logout"}`), event.SourceGWorkspace, ""},
		{"Google Workspace list", []byte(`{"etag":"e","kind":"admin#reports#activities","items":[]}`), event.SourceGWorkspace, ""},
		{"Entra Graph object: id is a string", []byte(`{"id":"x","activityDisplayName":"Add user"}`), event.SourceEntra, ""},
		{"M365 unified audit is not known", []byte(`{"Operation":"UserLoggedIn","Workload":"AzureActiveDirectory","CreationTime":"2022-12-12 15:57:57"}`), "", "cannot tell the source"},
		{"null wrapper fields", []byte(`{"records":null,"data":null}`), "", "cannot tell the source"},
		{"not an object", []byte(`[1]`), "", "where an object was expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(tt.raw)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Detect = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestForSource(t *testing.T) {
	for _, s := range Sources {
		if _, err := ForSource(s); err != nil {
			t.Errorf("ForSource(%q): %v", s, err)
		}
	}
	if _, err := ForSource("m365"); err == nil || !strings.Contains(err.Error(), `unknown source "m365" (want one of auto, okta, entra, scim, gworkspace, canonical)`) {
		t.Errorf("ForSource(m365) error %v", err)
	}
}

// TestNormalizeStream feeds a mixed file through the whole path: framing,
// detection, normalization and encoding, and checks order, rejects and
// that every output line is a canonical event.
func TestNormalizeStream(t *testing.T) {
	var in bytes.Buffer
	in.Write(normtest.Line(t, "okta/testdata/okta-systemlog.ndjson", 108)) // line 1: user.create
	in.WriteString("\nnot json\n")                                         // line 2: junk
	batch := readFile(t, "entra/testdata/eventhubs-batch.json")
	in.Write(batch) // lines 3-: 3 events
	in.WriteString("\n")
	in.Write(normtest.Line(t, "scim/testdata/requests.ndjson", 5)) // 3 events
	in.WriteString("\n{\"eventType\":\"user.session.start\"}\n")   // no time
	in.WriteString(`[{"activityDisplayName":"Add user","activityDateTime":"2026-01-01T00:00:00Z"}]`)

	var out bytes.Buffer
	var rejects []string
	n, _ := ForSource(SourceAuto)
	st, err := NormalizeStream(context.Background(), &in, &out, n, "t0", 0, func(line int, err error) {
		rejects = append(rejects, fmt.Sprintf("%d: %v", line, err))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Records: 5, Events: 8, Rejected: 1, NotJSON: 1}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	noTimeLine := 3 + bytes.Count(batch, []byte("\n")) + 2
	wantRejects := []string{"2: line 2: not a JSON object or array", fmt.Sprintf("%d: okta: published: missing time", noTimeLine)}
	if !slices.Equal(rejects, wantRejects) {
		t.Errorf("rejects = %q, want %q", rejects, wantRejects)
	}
	var actions []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		actions = append(actions, e.Source+":"+e.Action)
	}
	want := []string{
		"okta:user.create",
		"entra:role.grant", "entra:user.login", "entra:credential.create",
		"scim:group.member.add", "scim:group.member.add", "scim:group.member.add",
		"entra:user.create",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("output order:\n got %q\nwant %q", actions, want)
	}
}

// TestCanonicalRoundTrip: normalize's output reads back as the same events.
func TestCanonicalRoundTrip(t *testing.T) {
	var out bytes.Buffer
	in := readFile(t, "entra/testdata/graph-directoryaudits.json")
	if _, err := NormalizeStream(context.Background(), bytes.NewReader(in), &out, Auto{}, "t", 0, func(int, error) { t.Fatal("reject") }); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	st, err := NormalizeStream(context.Background(), bytes.NewReader(out.Bytes()), &again, Auto{}, "other", 0, func(_ int, err error) { t.Fatal(err) })
	if err != nil || st.Events != 6 {
		t.Fatalf("%+v %v", st, err)
	}
	if again.String() != out.String() {
		t.Errorf("canonical events changed when read back:\n%s\n%s", out.String(), again.String())
	}
	if _, err := (canonical{}).Normalize(nil, []byte(`{"time":"2026-11-20T03:00:00Z","raw_type":"x","action":"user.created"}`), ""); err == nil || !strings.Contains(err.Error(), `action "user.created" is not in the vocabulary`) {
		t.Errorf("bad action: %v", err)
	}
}

func TestNormalizeStreamCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NormalizeStream(ctx, strings.NewReader(`{"a":1}`), &bytes.Buffer{}, Auto{}, "", 0, func(int, error) {})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
