package source

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/entra"
	"github.com/scimwatch/scimwatch/ingest/source/gworkspace"
	"github.com/scimwatch/scimwatch/ingest/source/okta"
	"github.com/scimwatch/scimwatch/ingest/source/scim"
)

var updateMappings = flag.Bool("update-mappings", false, "rewrite MAPPINGS.md from the normalizers")

type mapping struct{ rawType, action, note string }

func allMappings() map[string][]mapping {
	out := map[string][]mapping{}
	for _, m := range okta.Mappings() {
		out[event.SourceOkta] = append(out[event.SourceOkta], mapping{m.RawType, m.Action, m.Note})
	}
	for _, m := range entra.Mappings() {
		out[event.SourceEntra] = append(out[event.SourceEntra], mapping{m.RawType, m.Action, m.Note})
	}
	for _, m := range scim.Mappings() {
		out[event.SourceSCIM] = append(out[event.SourceSCIM], mapping{m.RawType, m.Action, m.Note})
	}
	for _, m := range gworkspace.Mappings() {
		out[event.SourceGWorkspace] = append(out[event.SourceGWorkspace], mapping{m.RawType, m.Action, m.Note})
	}
	return out
}

// mappingsTable renders every raw type the normalizers map, by source and
// action, as Markdown.
func mappingsTable() string {
	var b strings.Builder
	b.WriteString("# What each raw type maps to\n\n")
	b.WriteString("Generated from the normalizers by `go test ./ingest/source -run TestMappingsTable -update-mappings`;\n")
	b.WriteString("`TestMappingsTable` fails when this file and the code differ, and normalizes a record of every\n")
	b.WriteString("Okta, Entra ID and Google Workspace raw type listed to check that it maps as the table says.\n")
	b.WriteString("A raw type not listed becomes `other`, its `raw_type` kept. Vocabulary version ")
	fmt.Fprintf(&b, "%d.\n", event.VocabularyVersion)
	all := allMappings()
	for _, src := range []string{event.SourceOkta, event.SourceEntra, event.SourceSCIM, event.SourceGWorkspace} {
		ms := all[src]
		slices.SortFunc(ms, func(a, b mapping) int {
			if c := strings.Compare(a.action, b.action); c != 0 {
				return c
			}
			return strings.Compare(strings.ToLower(a.rawType), strings.ToLower(b.rawType))
		})
		fmt.Fprintf(&b, "\n## %s (%d)\n\n| raw_type | action | note |\n|---|---|---|\n", src, len(ms))
		for _, m := range ms {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", m.rawType, m.action, m.note)
		}
	}
	return b.String()
}

// TestMappingsTable keeps MAPPINGS.md and the normalizers in step, and
// checks each listed raw type through the normalizer itself.
func TestMappingsTable(t *testing.T) {
	want := mappingsTable()
	if *updateMappings {
		if err := os.WriteFile("MAPPINGS.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("MAPPINGS.md")
	if err != nil || string(got) != want {
		t.Fatalf("MAPPINGS.md is not what the normalizers map (%v): run go test ./ingest/source -run TestMappingsTable -update-mappings", err)
	}
	all := allMappings()
	check := func(src, rawType, want string, raw string) {
		t.Helper()
		evs, err := bySource[src].Normalize(nil, []byte(raw), "t")
		if err != nil || len(evs) == 0 {
			t.Errorf("%s %q: %v", src, rawType, err)
			return
		}
		if evs[0].Action != want {
			t.Errorf("%s %q maps to %s, the table says %s", src, rawType, evs[0].Action, want)
		}
	}
	for _, m := range all[event.SourceOkta] {
		check(event.SourceOkta, m.rawType, m.action, fmt.Sprintf(`{"uuid":"u","published":"2026-11-20T03:00:00Z","eventType":%q,"displayMessage":"Add user to app group","actor":{"id":"a","type":"User"},"target":[{"id":"a","type":"User"},{"id":"g","type":"UserGroup"}]}`, m.rawType))
	}
	for _, m := range all[event.SourceEntra] {
		if m.note != "audit" {
			continue
		}
		check(event.SourceEntra, m.rawType, m.action, fmt.Sprintf(`{"id":"x","activityDateTime":"2026-11-20T03:00:00Z","activityDisplayName":%q,"result":"success"}`, m.rawType))
	}
	for _, m := range all[event.SourceGWorkspace] {
		app, name, _ := strings.Cut(m.rawType, ".")
		check(event.SourceGWorkspace, m.rawType, m.action, fmt.Sprintf(`{"id":{"time":"2026-11-20T03:00:00Z","applicationName":%q,"uniqueQualifier":"1"},"actor":{"email":"a@x.com"},"events":[{"name":%q}]}`, app, name))
	}
}
