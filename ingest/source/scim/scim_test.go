package scim

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/normtest"
)

// ev is what a test expects of one event; empty fields are not checked.
type ev struct {
	id, action, outcome, reason string
	targets, changes            []string
}

func TestRequestLog(t *testing.T) {
	const file = "testdata/requests.ndjson"
	tests := []struct {
		name    string
		line    int
		rawType string
		want    []ev
	}{
		{"POST /Users creates", 1, "POST /Users", []ev{{
			id: "req-create", action: event.ActionUserCreate, outcome: event.OutcomeSuccess,
			targets: []string{"user:2819c223-7f76-453a-919d-413861904646:Night Owl"},
		}}},
		{"Entra: Replace active \"False\" deactivates", 2, "PATCH /Users", []ev{{
			action: event.ActionUserDeactivate, targets: []string{"user:2819c223-7f76-453a-919d-413861904646:"},
			changes: []string{"active:->false"},
		}}},
		{"Okta: replace with a value object deactivates", 3, "PATCH /Users", []ev{{
			action: event.ActionUserDeactivate, targets: []string{"user:u-77:"}, changes: []string{"active:->false", "title:->Leaver"},
		}}},
		{"schema URN path, active true reactivates", 4, "PATCH /Users", []ev{{
			action: event.ActionUserReactivate, changes: []string{"active:->true"},
		}}},
		{"members add: one event per member", 5, "PATCH /Groups", []ev{
			{id: "req-members-add#1", action: event.ActionGroupMemberAdd, targets: []string{"group:g-admins:", "user:u-1:Ann"}},
			{id: "req-members-add#2", action: event.ActionGroupMemberAdd, targets: []string{"group:g-admins:", "user:u-2:Bob"}},
			{id: "req-members-add#3", action: event.ActionGroupMemberAdd, targets: []string{"group:g-admins:", "user:u-3:"}},
		}},
		{"Remove with a members filter", 6, "PATCH /Groups", []ev{
			{id: "req-member-filter", action: event.ActionGroupMemberRemove, targets: []string{"group:g-admins:", "user:u-2:"}},
		}},
		{"remove members without a value removes all", 7, "PATCH /Groups", []ev{
			{action: event.ActionGroupMemberRemove, targets: []string{"group:g-admins:"}, changes: []string{"members:*->"}},
		}},
		{"replace members, then rename", 8, "PATCH /Groups", []ev{
			{id: "req-replace-members#1", action: event.ActionGroupMemberRemove, targets: []string{"group:g-admins:"}},
			{id: "req-replace-members#2", action: event.ActionGroupMemberAdd, targets: []string{"group:g-admins:", "user:u-9:"}},
			{id: "req-replace-members#3", action: event.ActionGroupUpdate, changes: []string{"displayName:->Tier0 Admins"}},
		}},
		{"DELETE /Users", 9, "DELETE /Users", []ev{{action: event.ActionUserDelete, targets: []string{"user:u-77:"}}}},
		{"PUT with active \"false\"", 10, "PUT /Users", []ev{{
			action: event.ActionUserDeactivate, targets: []string{"user:u-5:five@acme.com"}, changes: []string{"active:->false", "userName:->five@acme.com"},
		}}},
		{"failed create keeps its action", 11, "POST /Users", []ev{{
			action: event.ActionUserCreate, outcome: event.OutcomeFailure, reason: "User already exists",
		}}},
		{"GET is kept as other, with its filter", 12, "GET /Users", []ev{{action: event.ActionOther, outcome: event.OutcomeSuccess,
			changes: []string{`filter:->userName eq "x"`}}}},
		{"a page of a listing: what was asked and what came back", 19, "GET /Users", []ev{{action: event.ActionOther, outcome: event.OutcomeSuccess,
			changes: []string{"startIndex:->201", "count:->100", "totalResults:->5000", "returned:->2"}}}},
		{"bodies written as JSON strings", 13, "POST /Groups", []ev{{
			action: event.ActionGroupCreate, targets: []string{"group:g-contractors:Contractors"},
		}}},
		// Membership set in bulk is membership changed: a group created
		// with members adds each; a PUT with members replaces them (as a
		// PATCH replace does); a PUT without members leaves them alone.
		{"POST /Groups with members adds each", 14, "POST /Groups", []ev{
			{id: "req-post-group-members#1", action: event.ActionGroupCreate, targets: []string{"group:g-fin:Finance Admins"}},
			{id: "req-post-group-members#2", action: event.ActionGroupMemberAdd, targets: []string{"group:g-fin:Finance Admins", "user:u-1:ann@acme.com"}},
			{id: "req-post-group-members#3", action: event.ActionGroupMemberAdd, targets: []string{"group:g-fin:Finance Admins", "user:u-2:bob@acme.com"}},
		}},
		{"PUT /Groups with members replaces them", 15, "PUT /Groups", []ev{
			{action: event.ActionGroupUpdate, targets: []string{"group:g-fin:Finance Admins"}},
			{action: event.ActionGroupMemberRemove, targets: []string{"group:g-fin:Finance Admins"}, changes: []string{"members:*->"}},
			{action: event.ActionGroupMemberAdd, targets: []string{"group:g-fin:Finance Admins", "user:u-3:carl@acme.com"}},
		}},
		{"PATCH add of members as plain ids", 16, "PATCH /Groups", []ev{
			{action: event.ActionGroupMemberAdd, outcome: event.OutcomeSuccess, targets: []string{"group:g-fin:", "user:u-4:"}},
			{action: event.ActionGroupMemberAdd, targets: []string{"group:g-fin:", "user:u-5:"}},
			{action: event.ActionGroupMemberAdd, targets: []string{"group:g-fin:", "user:u-6:"}},
		}},
		{"enterprise extension attributes by their own names", 17, "PATCH /Users", []ev{{
			action: event.ActionUserUpdate, targets: []string{"user:u-7:"},
			changes: []string{"manager:->u-boss", "department:->Finance", "title:->Controller", "costCenter:->CC-12", "employeeNumber:->7781"},
		}}},
		{"PUT /Groups without members", 18, "PUT /Groups", []ev{
			{id: "req-put-group-no-members", action: event.ActionGroupUpdate, targets: []string{"group:g-fin:Finance Admins (EMEA)"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := normtest.Line(t, file, tt.line)
			evs, err := Normalizer{}.Normalize(nil, raw, "default")
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tt.want) {
				t.Fatalf("got %d events, want %d: %+v", len(evs), len(tt.want), evs)
			}
			for i, w := range tt.want {
				e := evs[i]
				eq := func(field, got, want string) {
					t.Helper()
					if want != "" && got != want {
						t.Errorf("event %d: %s = %q, want %q", i, field, got, want)
					}
				}
				eq("source", e.Source, event.SourceSCIM)
				eq("raw_type", e.RawType, tt.rawType)
				eq("id", e.ID, w.id)
				eq("action", e.Action, w.action)
				eq("outcome", e.Outcome, w.outcome)
				eq("reason", e.Reason, w.reason)
				if w.targets != nil {
					if got := normtest.Targets(e.Targets); !slices.Equal(got, w.targets) {
						t.Errorf("event %d: targets = %q, want %q", i, got, w.targets)
					}
				}
				if w.changes != nil {
					if got := normtest.Changes(e.Changes); !slices.Equal(got, w.changes) {
						t.Errorf("event %d: changes = %q, want %q", i, got, w.changes)
					}
				}
				if e.Actor.Type != event.ActorApp || e.Actor.ID == "" {
					t.Errorf("event %d: actor %+v, want the client as an app", i, e.Actor)
				}
				if string(e.Raw) != string(raw) {
					t.Errorf("event %d: raw is not the record", i)
				}
			}
		})
	}
}

func TestRequestLogFields(t *testing.T) {
	evs, err := Normalizer{}.Normalize(nil, normtest.Line(t, "testdata/requests.ndjson", 1), "default")
	if err != nil {
		t.Fatal(err)
	}
	e := evs[0]
	want := event.Actor{ID: "entra-provisioning", Type: event.ActorApp, Name: "entra-provisioning", IP: "20.190.1.1", UserAgent: "Microsoft.Identity.ProvisioningService"}
	if e.Actor != want {
		t.Errorf("actor = %+v, want %+v", e.Actor, want)
	}
	if e.Tenant != "acme" || e.CorrelationID != "req-create" || e.Time.Format(event.TimeLayout) != "2026-11-20T06:00:00.100Z" {
		t.Errorf("tenant %q correlation %q time %v", e.Tenant, e.CorrelationID, e.Time)
	}
	if e.Targets[0].Email != "night.owl@contoso.com" {
		t.Errorf("email = %q, want the primary one", e.Targets[0].Email)
	}
	// A record without tenant takes the default; without request id, the id is a hash.
	evs, _ = Normalizer{}.Normalize(nil, normtest.Line(t, "testdata/requests.ndjson", 3), "default")
	if evs[0].Tenant != "default" {
		t.Errorf("tenant = %q, want the default", evs[0].Tenant)
	}
	evs, _ = Normalizer{}.Normalize(nil, normtest.Line(t, "testdata/requests.ndjson", 12), "default")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(evs[0].ID) {
		t.Errorf("id %q is not a hash", evs[0].ID)
	}
}

func TestRejects(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`{"time":"2026-01-01T00:00:00Z","path":"/Users"}`, "needs method and path"},
		{`{"method":"POST","path":"/Users"}`, "time: missing time"},
		{`{"method":"POST","path":"/Users","time":"2026-01-01T00:00:00Z","request":{"op`, "invalid JSON"},
		{`{"method":["POST"],"path":"/Users","time":"2026-01-01T00:00:00Z"}`, "field method"},
	}
	for _, tt := range tests {
		_, err := Normalizer{}.Normalize(nil, []byte(tt.raw), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.raw, err, tt.want)
		}
	}
	if _, err := (Normalizer{}).Normalize(nil, []byte(`{"time":"2026-01-01T00:00:00Z"}`), ""); !errors.Is(err, ErrNotSCIM) {
		t.Errorf("error %v is not ErrNotSCIM", err)
	}
}

func TestAttrAndFilter(t *testing.T) {
	for in, want := range map[string]string{
		"active": "active",
		"urn:ietf:params:scim:schemas:core:2.0:User:active":                   "active",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":  "manager",
		`urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].x`: `emails[type eq "work"].x`,
	} {
		if got := attr(in); got != want {
			t.Errorf("attr(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`members[value eq "2819c223"]`: "2819c223",
		`members[Value EQ "abc"]`:      "abc",
		`members[display co "x"]`:      "",
		`members[`:                     "",
	} {
		if got := filterValue(in); got != want {
			t.Errorf("filterValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAppAndInlineGrants: a record's app is an app target of its events
// (testdata/app-writes.ndjson: the SCIM logs of two apps of an Okta org),
// and what a user write gives inline is a target: each role and
// entitlement value a role target, each group a group target, each
// certificate a credential target, so that rules judge the values.
func TestAppAndInlineGrants(t *testing.T) {
	for i, want := range [][]string{
		{"user:005Hs00000DANA1:Dana Lee", "role:Standard User:Standard User", "app:Initech Salesforce:Initech Salesforce"},
		{"user:U07DANALEE:Dana Lee", "app:Initech Slack:Initech Slack"},
		{"user:005Hs00000DANA1:", "app:Initech Salesforce:Initech Salesforce"},
		{"user:005Hs00000DANA1:Dana Lee", "app:Initech Salesforce:Initech Salesforce"},
		{"user:U07DANALEE:", "app:Initech Slack:Initech Slack"},
	} {
		evs, err := Normalizer{}.Normalize(nil, normtest.Line(t, "testdata/app-writes.ndjson", i+1), "")
		if err != nil || len(evs) != 1 {
			t.Fatalf("line %d: %d events, %v", i+1, len(evs), err)
		}
		if got := normtest.Targets(evs[0].Targets); !slices.Equal(got, want) {
			t.Errorf("line %d: targets %q, want %q", i+1, got, want)
		}
	}
	rec := `{"time":"2026-11-20T06:00:00Z","tenant":"acme","client_id":"c","method":"POST","path":"/scim/v2/Users","status":201,` +
		`"request":{"userName":"a@acme.com","groups":[{"value":"g-eng","display":"Engineering"},"g-2"],` +
		`"roles":[{"value":"admin","display":"Administrator","primary":"True"}],"entitlements":"[{\"value\":\"billing-admin\"}]",` +
		`"x509Certificates":[{"value":"MIIDQzCCAqygAwIBAgICEAAw"}]},"response":{"id":"u-1"}}`
	evs, err := Normalizer{}.Normalize(nil, []byte(rec), "")
	if err != nil {
		t.Fatal(err)
	}
	got := normtest.Targets(evs[0].Targets)
	for _, w := range []string{"group:g-eng:Engineering", "group:g-2:g-2", "role:admin:Administrator", "role:billing-admin:billing-admin"} {
		if !slices.Contains(got, w) {
			t.Errorf("targets %q lack %q", got, w)
		}
	}
	if c := evs[0].TargetOfType(event.TargetCredential); c == nil || c.Name != "X.509 certificate" || c.ID == "" || strings.Contains(c.ID, "MIID") {
		t.Errorf("certificate target %+v", c)
	}
	// Removing a role gives nothing; a filter path's value is the value.
	rec = `{"time":"2026-11-20T06:00:00Z","tenant":"acme","client_id":"c","method":"PATCH","path":"/scim/v2/Users/u-1","status":200,` +
		`"request":{"Operations":[{"op":"remove","path":"roles"},{"op":"replace","path":"roles[primary eq \"True\"].value","value":"Org Admin"}]}}`
	evs, _ = Normalizer{}.Normalize(nil, []byte(rec), "")
	if got := normtest.Targets(evs[0].Targets); !slices.Equal(got, []string{"user:u-1:", "role:Org Admin:Org Admin"}) {
		t.Errorf("patch targets %q", got)
	}
}

// TestUnreadBodies: a request body of a form scimwatch does not read (a
// list where a resource belongs, Operations that are not a list) still
// leaves its event, marked unread; a failed request's error page is no
// surprise and is not counted.
func TestUnreadBodies(t *testing.T) {
	for _, tc := range []struct {
		rec    string
		unread int
	}{
		{`{"time":"2026-11-20T06:00:00Z","client_id":"c","method":"POST","path":"/scim/v2/Users","status":201,"request":[1,2],"response":{"id":"u-1"}}`, 1},
		{`{"time":"2026-11-20T06:00:00Z","client_id":"c","method":"PATCH","path":"/scim/v2/Groups/g-1","status":200,"request":{"Operations":{"op":"add"}}}`, 1},
		{`{"time":"2026-11-20T06:00:00Z","client_id":"c","method":"POST","path":"/scim/v2/Users","status":502,"request":{"userName":"a"},"response":"<html>Bad Gateway</html>"}`, 0},
		{`{"time":"2026-11-20T06:00:00Z","client_id":"c","method":"DELETE","path":"/scim/v2/Users/u-1","status":204}`, 0},
	} {
		evs, err := Normalizer{}.Normalize(nil, []byte(tc.rec), "acme")
		if err != nil || len(evs) == 0 {
			t.Fatalf("%s: %d events, %v", tc.rec, len(evs), err)
		}
		if evs[0].Trimmed.Unread != tc.unread {
			t.Errorf("%s: unread %d, want %d", tc.rec, evs[0].Trimmed.Unread, tc.unread)
		}
	}
}
