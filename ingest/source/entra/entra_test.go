package entra

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/normtest"
)

// want is what a test expects of one event; empty fields are not checked.
type want struct {
	rawType, action, outcome, reason string
	actorID, actorType, actorEmail   string
	ip, tenant, id, correlation      string
	tstamp                           string
	targets, changes                 []string
}

func (w want) check(t *testing.T, e event.Event) {
	t.Helper()
	eq := func(field, got, want string) {
		t.Helper()
		if want != "" && got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	eq("source", e.Source, event.SourceEntra)
	eq("raw_type", e.RawType, w.rawType)
	eq("action", e.Action, w.action)
	eq("outcome", e.Outcome, w.outcome)
	eq("reason", e.Reason, w.reason)
	eq("actor.id", e.Actor.ID, w.actorID)
	eq("actor.type", e.Actor.Type, w.actorType)
	eq("actor.email", e.Actor.Email, w.actorEmail)
	eq("actor.ip", e.Actor.IP, w.ip)
	eq("tenant", e.Tenant, w.tenant)
	eq("id", e.ID, w.id)
	eq("correlation_id", e.CorrelationID, w.correlation)
	eq("time", e.Time.Format(event.TimeLayout), w.tstamp)
	if w.targets != nil {
		if got := normtest.Targets(e.Targets); !slices.Equal(got, w.targets) {
			t.Errorf("targets = %q, want %q", got, w.targets)
		}
	}
	if w.changes != nil {
		if got := normtest.Changes(e.Changes); !slices.Equal(got, w.changes) {
			t.Errorf("changes = %q, want %q", got, w.changes)
		}
	}
	if !event.ValidAction(e.Action) {
		t.Errorf("action %q is not in the vocabulary", e.Action)
	}
}

func TestAzureMonitorSamples(t *testing.T) {
	const samples = "testdata/entra-azure-monitor.ndjson"
	tests := []struct {
		name string
		line int
		want want
	}{
		{"classic add member to role", 41, want{
			rawType: "Add member to role", action: event.ActionRoleGrant, outcome: event.OutcomeSuccess, reason: "test assign",
			actorID: "12345", actorType: event.ActorUser, actorEmail: "Radahn@Starscourge.onmicrosoft.com",
			tenant: "12345", id: "PIM_123415", correlation: "12345", tstamp: "2024-12-16T16:32:16.087Z",
			targets: []string{"role:12345:Application Administrator", "other:12345:", "user:12345:Malenia", "other:12345:Panther", "other:12345:"},
			changes: []string{"RoleDefinitionOriginId:->12345", "RoleDefinitionOriginType:->BuiltInRole", "TemplateId:->123415"},
		}},
		{"PIM completed is a grant", 39, want{rawType: "Add member to role in PIM completed (permanent)", action: event.ActionRoleGrant}},
		{"PIM request is not a grant", 40, want{rawType: "Add member to role in PIM requested (permanent)", action: event.ActionOther}},
		{"service principal credentials", 44, want{
			rawType: "Add service principal credentials", action: event.ActionCredentialCreate, outcome: event.OutcomeSuccess,
			actorID: "admin-123", ip: "2.2.2.2", tenant: "tenant-123", correlation: "sp-creds-001", tstamp: "2025-01-15T09:30:20.123Z",
			targets: []string{"app:sp-app-456:Production API Service"},
			changes: []string{"KeyDescription:->Client Secret for API Access", "KeyType:->Password"},
		}},
		{"JSON object values stay JSON", 1, want{
			rawType: "Update authentication methods policy", action: event.ActionOther, tenant: "tenant-abc",
			changes: []string{`OpenIdConnectConfiguration:{"discoveryUrl":"https://login.microsoftonline.com/tenant-abc/.well-known/openid-configuration"}->{"discoveryUrl":"https://attacker-idp.evil.com/.well-known/openid-configuration"}`},
		}},
		{"self elevation with the result at the top level", 7, want{
			rawType: "User has elevated their access to User Access Administrator for their Azure Resources",
			action:  event.ActionRoleGrant, outcome: event.OutcomeSuccess, actorID: "user-admin-789", ip: "2.2.2.2",
		}},
		{"remove role assignment", 8, want{
			rawType: "Remove role assignment", action: event.ActionRoleRevoke, tenant: "tenant-def",
			targets: []string{"user:user-former-888:Former Employee"},
		}},
		{"result failed", 21, want{rawType: "Invite external user", action: event.ActionUserCreate, outcome: event.OutcomeFailure}},
		{"interactive sign-in", 3, want{
			rawType: "SignInLogs", action: event.ActionUserLogin, outcome: event.OutcomeSuccess,
			actorID: "user-victim-123", actorType: event.ActorUser, actorEmail: "aragorn@lotr.com", ip: "2.2.2.2",
			tenant: "tenant-123", tstamp: "2025-01-15T09:30:45.123Z",
			targets: []string{"app:29d9ed98-a469-4536-ade2-f981bc1d605e:Microsoft Authentication Broker"},
		}},
		{"service principal sign-in, lower-cased keys, failed", 12, want{
			rawType: "ServicePrincipalSignInLogs", action: event.ActionUserLogin, outcome: event.OutcomeFailure, reason: "error code 7000215",
			actorID: "b1c34143-e405-4058-8e29-84596ad737b8", actorType: event.ActorApp, ip: "12.12.12.12",
			tenant: "a2aa49aa-2c0c-49d2-af87-f402c421df0b", id: "36658c78-02d9-4d8f-84ee-5ca4a3fdefef",
			targets: []string{"app:037694de-8c7d-498d-917d-edb650090fa5:Azure Storage"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Normalizer{}.Normalize(nil, normtest.Line(t, samples, tt.line), "default")
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("got %d events", len(evs))
			}
			tt.want.check(t, evs[0])
		})
	}
	// Every sample is an event.
	for i, raw := range normtest.Lines(t, samples) {
		if _, err := (Normalizer{}).Normalize(nil, raw, ""); err != nil {
			t.Errorf("line %d: %v", i+1, err)
		}
	}
}

func normalizeFile(t *testing.T, path string) []event.Event {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for _, rec := range normtest.Lines(t, path) {
		if strings.HasSuffix(path, ".json") {
			rec = raw
		}
		evs, err = Normalizer{}.Normalize(evs, rec, "default")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(path, ".json") {
			break
		}
	}
	return evs
}

func TestGraphDirectoryAudits(t *testing.T) {
	evs := normalizeFile(t, "testdata/graph-directoryaudits.json")
	wants := []want{
		{rawType: "Add user", action: event.ActionUserCreate, outcome: event.OutcomeSuccess, actorID: "u-admin-1",
			actorEmail: "grace@contoso.com", ip: "203.0.113.10", tenant: "default", id: "Directory_0A1B2C3D_add_user",
			tstamp: "2026-11-20T02:58:31.456Z", targets: []string{"user:u-new-1:Night Owl"}, changes: []string{"AccountEnabled:->true"}},
		{rawType: "Add member to group", action: event.ActionGroupMemberAdd, actorID: "sp-sync-1", actorType: event.ActorApp,
			id: "Directory_0A1B2C3D_add_member_group", tstamp: "2026-11-20T02:59:00.100Z",
			targets: []string{"user:u-new-1:", "group:g-admins-1:Tier0 Admins"}},
		{rawType: "Add member to role", action: event.ActionRoleGrant, actorID: "u-new-1",
			targets: []string{"user:u-new-1:", "role:62e90394-69f5-4237-9190-012177145e10:Global Administrator"}},
		{rawType: "Disable account", action: event.ActionUserDeactivate, outcome: event.OutcomeFailure, reason: "Insufficient privileges",
			changes: []string{"AccountEnabled:true->false"}},
		{rawType: "Update user", action: event.ActionUserUpdate,
			changes: []string{"ShowInAddressList:true->false", `Department:Sales->["Sales","Ops"]`}},
		{rawType: "Remove member from group", action: event.ActionGroupMemberRemove, actorType: event.ActorSystem,
			targets: []string{"user:u-old-9:", "group:g-sales:Sales"}},
	}
	if len(evs) != len(wants) {
		t.Fatalf("got %d events, want %d", len(evs), len(wants))
	}
	for i, w := range wants {
		t.Run(w.rawType, func(t *testing.T) { w.check(t, evs[i]) })
	}
}

func TestProvisioningLogs(t *testing.T) {
	evs := normalizeFile(t, "testdata/provisioning.ndjson")
	wants := []want{
		{rawType: "provisioning.create", action: event.ActionUserCreate, outcome: event.OutcomeSuccess, actorType: event.ActorSystem,
			tenant: "c0dd2fa0-71be-4df8-b2a6-24cee7de069a", id: "prov-0001", tstamp: "2026-11-20T04:00:01.123Z",
			targets: []string{"user:005Hs00000ABCDE:nightowl@contoso.com", "app:sp-salesforce:Salesforce"},
			changes: []string{"accountEnabled:->true"}},
		{rawType: "provisioning.disable", action: event.ActionUserDeactivate, outcome: event.OutcomeFailure,
			reason: "The session token is invalid or expired"},
		{rawType: "provisioning.update", action: event.ActionGroupUpdate, outcome: event.OutcomeUnknown, actorID: "u-admin-1",
			actorType: event.ActorUser, targets: []string{"group:slack-grp-1:eng-oncall", "app:sp-slack:Slack"}},
		{rawType: "provisioning.delete", action: event.ActionUserDelete, outcome: event.OutcomeSuccess, id: "prov-0004",
			tenant: "c0dd2fa0-71be-4df8-b2a6-24cee7de069a", correlation: "corr-prov-4", tstamp: "2026-11-20T04:00:04.000Z"},
	}
	if len(evs) != len(wants) {
		t.Fatalf("got %d events, want %d", len(evs), len(wants))
	}
	for i, w := range wants {
		t.Run(w.rawType, func(t *testing.T) { w.check(t, evs[i]) })
	}
}

func TestEventHubsBatch(t *testing.T) {
	evs := normalizeFile(t, "testdata/eventhubs-batch.json")
	wants := []want{
		{rawType: "Add member to role completed (PIM activation)", action: event.ActionRoleGrant, actorID: "u-ops-3",
			tenant: "4f1e2d3c-aaaa-bbbb-cccc-000000000001", tstamp: "2026-11-20T05:10:00.123Z",
			targets: []string{"role:role-pra:Privileged Role Administrator", "user:u-ops-3:Ops Three"}},
		{rawType: "SignInLogs", action: event.ActionUserLogin, outcome: event.OutcomeFailure, reason: "Invalid username or password.",
			actorEmail: "ops3@contoso.com", ip: "192.0.2.50", id: "signin-id-1"},
		{rawType: "Add service principal credentials", action: event.ActionCredentialCreate, actorID: "sp-automation",
			actorType: event.ActorApp},
	}
	if len(evs) != len(wants) {
		t.Fatalf("got %d events, want %d", len(evs), len(wants))
	}
	for i, w := range wants {
		t.Run(w.rawType, func(t *testing.T) {
			w.check(t, evs[i])
			if !strings.HasPrefix(string(evs[i].Raw), "{") || strings.Contains(string(evs[i].Raw), `"records"`) {
				t.Errorf("raw is not the inner record: %.80s", evs[i].Raw)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`{"foo":1}`, "not an Entra ID"},
		{`{"activityDisplayName":"Add user"}`, "time: missing time"},
		{`{"activityDisplayName":"Add user","activityDateTime":"2026-01-01T00:00:00Z","targetResources":"x"}`, "field targetResources"},
		{`{"records":[{"activityDisplayName":"Add user","activityDateTime":"2026-01-01T00:00:00Z"},{"x":1}]}`, "records[1]: not an Entra ID"},
		{`{"value":[5]}`, "value[0]"},
	}
	for _, tt := range tests {
		_, err := Normalizer{}.Normalize(nil, []byte(tt.raw), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.raw, err, tt.want)
		}
	}
	if _, err := (Normalizer{}).Normalize(nil, []byte(`{}`), ""); !errors.Is(err, ErrNotEntra) {
		t.Errorf("error %v is not ErrNotEntra", err)
	}
}
