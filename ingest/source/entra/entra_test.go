package entra

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

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
			targets: []string{"user:u-new-1:nightowl@contoso.com", "app_user:005Hs00000ABCDE:nightowl@contoso.com", "app:sp-salesforce:Salesforce"},
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

// TestVendorShaped: records written from Microsoft's documented shapes for
// the classes the public samples lack (testdata/README.md), each checked
// for action, outcome, actor and every target.
func TestVendorShaped(t *testing.T) {
	evs := normalizeFile(t, "testdata/vendor-shaped.ndjson")
	const admin, dana = "a1b2c3d4-0000-4000-8000-000000000001", "d4e5f6a7-0000-4000-8000-00000000beef"
	graph := "app:00000003-sp-graph-0000-000000000000:Microsoft Graph"
	wants := []want{
		// An application permission granted to a service principal is a
		// privilege: the permission is the role, the app that got it a target.
		{rawType: "Add app role assignment to service principal", action: event.ActionRoleGrant, outcome: event.OutcomeSuccess,
			actorID: admin, actorType: event.ActorUser, actorEmail: "it.admin@contoso.com", ip: "203.0.113.10",
			targets: []string{graph, "app:7e5d1f2a-sp-mailer:Newsletter Mailer", "role:b633e1c5-b582-4048-a93e-9f11b44c7e96:Mail.Send"}},
		{rawType: "Remove app role assignment from service principal", action: event.ActionRoleRevoke, outcome: event.OutcomeSuccess,
			actorID: admin, targets: []string{graph, "app:7e5d1f2a-sp-mailer:Newsletter Mailer", "role:b633e1c5-b582-4048-a93e-9f11b44c7e96:Mail.Send"}},
		{rawType: "Add delegated permission grant", action: event.ActionRoleGrant, outcome: event.OutcomeSuccess, actorID: admin,
			targets: []string{graph, "role::Mail.Read", "role::Files.Read.All", "role::offline_access", "app:c0ffee00-sp-crm:"}},
		{rawType: "Consent to application", action: event.ActionAppConsent, outcome: event.OutcomeSuccess, actorID: admin,
			targets: []string{"app:c0ffee00-sp-crm:Contoso CRM Sync", "role::Files.Read.All", "role::Mail.Read", "role::offline_access"}},
		// An en dash and a trailing space in the name; a secret added, then
		// one removed (fewer keys after than before): the key added or
		// removed is a credential target, by its KeyIdentifier.
		{rawType: "Update application \u2013 Certificates and secrets management ", action: event.ActionCredentialCreate, outcome: event.OutcomeSuccess,
			actorID: admin, targets: []string{"app:e8a1b2c3-app-obj-crm:Contoso CRM Sync", "credential:9f8e7d6c-new:backdoor"}},
		{rawType: "Update application - Certificates and secrets management", action: event.ActionCredentialRevoke, outcome: event.OutcomeSuccess,
			actorID: admin, targets: []string{"app:e8a1b2c3-app-obj-crm:Contoso CRM Sync", "credential:9f8e7d6c-new:backdoor"}},
		// Risk detections keep the at-risk user, as actor and target.
		{rawType: "riskDetection.unfamiliarFeatures", action: event.ActionOther, outcome: event.OutcomeUnknown, reason: "medium, atRisk",
			actorID: dana, actorType: event.ActorUser, actorEmail: "dana.fin@contoso.com", ip: "198.51.100.23", tstamp: "2026-11-18T02:14:09.000Z",
			targets: []string{"user:" + dana + ":Dana Fin"}},
		{rawType: "riskDetection.anonymizedIPAddress", action: event.ActionOther, reason: "high, atRisk", actorID: dana, ip: "185.220.101.4",
			tenant: "3f1c6a2e-8d4b-4c9a-9f0e-5a7b2c1d0e9f", targets: []string{"user:" + dana + ":Dana Fin"}},
		// Graph activity: the calling user and app, the outcome from the
		// HTTP status.
		{rawType: "GET /v1.0/users", action: event.ActionOther, outcome: event.OutcomeSuccess, actorID: dana, actorType: event.ActorUser,
			ip: "198.51.100.23", tstamp: "2026-11-18T02:21:03.123Z",
			targets: []string{"app:14d82eec-204b-4c2f-b7e8-296a70dab67e:", "other::https://graph.microsoft.com/v1.0/users?$top=999&$select=displayName,mail"}},
		{rawType: "POST /v1.0/users/ceo@contoso.com/sendMail", action: event.ActionOther, outcome: event.OutcomeFailure, reason: "HTTP 403",
			actorID: "7e5d1f2a-sp-mailer", actorType: event.ActorApp, targets: []string{"other::https://graph.microsoft.com/v1.0/users/ceo@contoso.com/sendMail"}},
		// "<null>" is no address; a change Entra did not name keeps its values.
		{rawType: "Update user", action: event.ActionUserUpdate, actorID: admin, targets: []string{"user:" + dana + ":"},
			changes: []string{`(unnamed):->{"DisplayName":"Dana Fin"}`, "JobTitle:Analyst->Finance Director"}},
		{rawType: "Change user password", action: event.ActionPasswordChange, actorID: dana, ip: "192.0.2.44", targets: []string{"user:" + dana + ":"}},
		{rawType: "User registered security info", action: event.ActionMFAEnroll, actorID: dana, targets: []string{"user:" + dana + ":Dana Fin"}},
		{rawType: "Recover device local administrator password", action: event.ActionDevicePasswordRead, actorID: admin,
			targets: []string{"other:0f1e2d3c-dev-0001:FIN-LAPTOP-07"}},
		{rawType: "Verify domain", action: event.ActionDomainVerify, actorID: admin, targets: []string{"other::contoso-payments.com"}},
		// Provisioning logs in Azure Monitor's shape (Name and Type keys):
		// a skipped create keeps its user (named only by the source) and why
		// it was skipped; a create keeps the directory's user and the app's
		// id for it; a group typed by its SCIM schema URN is a group.
		{rawType: "provisioning.create", action: event.ActionUserCreate, outcome: event.OutcomeUnknown,
			reason: "NotEffectivelyEntitled: The user was skipped because the user is not assigned to the application", actorType: event.ActorSystem,
			targets: []string{"user:" + dana + ":Dana Fin", "app:5a6b7c8d-sp-zscaler:Zscaler Internet Access"}},
		{rawType: "provisioning.create", action: event.ActionUserCreate, outcome: event.OutcomeSuccess, correlation: "corr-prov-create-2",
			targets: []string{"user:b7c8d9e0-0000-4000-8000-00000000cafe:Eli Ops", "app_user:zia-u-0091231:", "app:5a6b7c8d-sp-zscaler:Zscaler Internet Access"}},
		{rawType: "provisioning.update", action: event.ActionGroupUpdate, outcome: event.OutcomeFailure,
			reason:  "The SCIM endpoint returned 400 Bad Request: members[0].value not found",
			targets: []string{"group:f0e1d2c3-grp-finance-admins:Finance Admins", "other:zia-g-77:Finance Admins", "app:5a6b7c8d-sp-zscaler:Zscaler Internet Access"}},
	}
	if len(evs) != len(wants) {
		t.Fatalf("got %d events, want %d", len(evs), len(wants))
	}
	for i, w := range wants {
		t.Run(fmt.Sprintf("%d %s", i+1, w.rawType), func(t *testing.T) { w.check(t, evs[i]) })
	}
	if e := evs[10]; e.Actor.IP != "" {
		t.Errorf("actor.ip %q from <null>", e.Actor.IP)
	}
	if e := evs[15]; e.Actor.Name != "Azure AD Provisioning Service" || e.Targets[0].Email != "dana.fin@contoso.com" {
		t.Errorf("initiator name %q, user email %q: want them from the Name key and the source's details", e.Actor.Name, e.Targets[0].Email)
	}
}

// TestActivityNames: activity names match however Entra spaces and
// dashes them.
func TestActivityNames(t *testing.T) {
	for _, name := range []string{
		"Update application – Certificates and secrets management ",
		"Update application — Certificates and secrets management",
		"update application - certificates  and secrets management",
		"\tUpdate application\u00a0- Certificates and secrets management",
	} {
		if got := auditAction(name); got != event.ActionCredentialCreate {
			t.Errorf("%q: %s", name, got)
		}
	}
	if got := auditAction("Update application"); got != event.ActionAppUpdate {
		t.Errorf("Update application: %s", got)
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

// TestInboundProvisioning: an HR system provisioning into the directory
// (testdata/hr-inbound.ndjson, written from Microsoft's provisioning log
// documentation: Workday to Entra ID and SuccessFactors to Active Directory
// jobs, in Graph's shape and as Azure Monitor delivers it, with steps and
// statuses as numbers) keys the account by the directory's user, not the
// worker, keeps the worker id as an other target, and names no app; an
// outbound job's skip in Azure Monitor's numbers keeps its initiator, user,
// app and reason.
func TestInboundProvisioning(t *testing.T) {
	const jordan = "user:3f0b7c1e-2a4d-4b6e-8f90-a1b2c3d4e5f6:Jordan Reyes"
	tests := []struct {
		action, outcome, reason string
		targets                 []string
		email                   string
	}{
		{event.ActionUserCreate, event.OutcomeSuccess, "", []string{jordan, "other:WD12345:Jordan Reyes"}, "jordan.reyes@fabrikam.example"},
		{event.ActionUserCreate, event.OutcomeSuccess, "", []string{"user:5c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5:Priya Shah", "other:WD12346:Priya Shah"}, "priya.shah@fabrikam.example"},
		{event.ActionUserCreate, event.OutcomeUnknown, "NotEffectivelyEntitled: The user was skipped because the user is not assigned to the application",
			[]string{jordan, "app:sp-servicenow:ServiceNow"}, "jordan.reyes@fabrikam.example"},
		{event.ActionUserUpdate, event.OutcomeSuccess, "", []string{jordan, "other:WD12345:Jordan Reyes"}, "jordan.reyes@fabrikam.example"},
		{event.ActionUserDeactivate, event.OutcomeSuccess, "", []string{"user:9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a:Morgan Hale", "other:WD10077:Morgan Hale"}, "morgan.hale@fabrikam.example"},
		{event.ActionUserCreate, event.OutcomeSuccess, "", []string{"user:CN=Alex Kim,OU=Staff,DC=fabrikam,DC=example:Alex Kim", "other:SF-880021:Alex Kim"}, "alex.kim@fabrikam.example"},
	}
	lines := normtest.Lines(t, "testdata/hr-inbound.ndjson")
	if len(lines) != len(tests) {
		t.Fatalf("%d records, %d cases", len(lines), len(tests))
	}
	for i, tt := range tests {
		evs, err := Normalizer{}.Normalize(nil, lines[i], "")
		if err != nil || len(evs) != 1 {
			t.Fatalf("line %d: %d events, %v", i+1, len(evs), err)
		}
		e := evs[0]
		if e.Action != tt.action || e.Outcome != tt.outcome || e.Reason != tt.reason {
			t.Errorf("line %d: action, outcome, reason = %q %q %q, want %q %q %q", i+1, e.Action, e.Outcome, e.Reason, tt.action, tt.outcome, tt.reason)
		}
		if ts := normtest.Targets(e.Targets); !slices.Equal(ts, tt.targets) {
			t.Errorf("line %d: targets = %q, want %q", i+1, ts, tt.targets)
		}
		if u := e.TargetOfType(event.TargetUser); u == nil || u.Email != tt.email {
			t.Errorf("line %d: user %+v, want email %s", i+1, u, tt.email)
		}
		if e.Actor.Name != "Microsoft Entra Provisioning Service" || e.Actor.Type != event.ActorSystem {
			t.Errorf("line %d: actor %+v", i+1, e.Actor)
		}
		if e.Tenant != "7a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b" || e.Trimmed.Unread != 0 {
			t.Errorf("line %d: tenant %q, unread %d", i+1, e.Tenant, e.Trimmed.Unread)
		}
	}
}

// TestUnreadFieldsCounted: a provisioning record whose steps are in a form
// scimwatch does not read (an object, not a list) is still an event, of
// what could be read, and says that a field could not be.
func TestUnreadFieldsCounted(t *testing.T) {
	lines := normtest.Lines(t, "testdata/hr-inbound.ndjson")
	rec := strings.Replace(string(lines[2]), `"provisioningSteps":[`, `"provisioningSteps":{"0":[`, 1)
	rec = strings.Replace(rec, `],"modifiedProperties"`, `]},"modifiedProperties"`, 1)
	evs, err := Normalizer{}.Normalize(nil, []byte(rec), "")
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if e := evs[0]; e.Trimmed.Unread != 1 || e.Action != event.ActionUserCreate || e.Outcome != event.OutcomeUnknown {
		t.Errorf("unread %d, action %s, outcome %s", e.Trimmed.Unread, e.Action, e.Outcome)
	}
	// The same record whole reads whole.
	evs, _ = Normalizer{}.Normalize(nil, lines[2], "")
	if evs[0].Trimmed.Unread != 0 {
		t.Errorf("whole record: unread %d", evs[0].Trimmed.Unread)
	}
}

// TestRiskyUsersAndCreatedCredentials: Azure Monitor's RiskyUsers record,
// whose time is in Azure's US form and whose event time is
// riskLastUpdatedDateTime, and a credential added while an application is
// created ("Create application – Certificates and secrets management").
func TestRiskyUsersAndCreatedCredentials(t *testing.T) {
	risky := `{"time":"8/22/2022 6:11:52 PM","resourceId":"/tenants/7a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/providers/Microsoft.aadiam","operationName":"Risky user","category":"RiskyUsers","tenantId":"7a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b","properties":{"id":"5c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5","isDeleted":false,"isProcessing":false,"riskDetail":"none","riskLastUpdatedDateTime":"2022-08-22T18:11:50.4713461Z","riskLevel":"high","riskState":"atRisk","userDisplayName":"Priya Shah","userPrincipalName":"priya.shah@fabrikam.example"}}`
	evs, err := Normalizer{}.Normalize(nil, []byte(risky), "")
	if err != nil || len(evs) != 1 {
		t.Fatalf("risky user: %d events, %v", len(evs), err)
	}
	e := evs[0]
	if e.RawType != "riskyUser.atRisk" || e.Reason != "high" || e.Time.Format(time.RFC3339) != "2022-08-22T18:11:50Z" ||
		normtest.Targets(e.Targets)[0] != "user:5c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5:Priya Shah" || e.ID == "5c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5" {
		t.Errorf("risky user: %+v", e)
	}
	// Without riskLastUpdatedDateTime the record's own time, US form, is read.
	noLast := strings.Replace(risky, `"riskLastUpdatedDateTime":"2022-08-22T18:11:50.4713461Z",`, ``, 1)
	if evs, err := (Normalizer{}).Normalize(nil, []byte(noLast), ""); err != nil || evs[0].Time.Format(time.RFC3339) != "2022-08-22T18:11:52Z" {
		t.Errorf("US time: %v %v", evs, err)
	}

	created := `{"id":"Directory_CA_1","category":"ApplicationManagement","correlationId":"c-1","result":"success","activityDisplayName":"Create application – Certificates and secrets management ","activityDateTime":"2026-11-20T10:00:00Z","initiatedBy":{"user":{"id":"u-admin","userPrincipalName":"it.admin@fabrikam.example"}},"targetResources":[{"id":"app-obj-1","displayName":"Payroll Export","type":"Application","modifiedProperties":[{"displayName":"KeyDescription","oldValue":"[]","newValue":"[\"[KeyIdentifier=1d2c3b4a-0000-4000-8000-000000000001,KeyType=Password,KeyUsage=Verify,DisplayName=ci]\"]"}]}]}`
	evs, err = Normalizer{}.Normalize(nil, []byte(created), "")
	if err != nil || len(evs) != 1 || evs[0].Action != event.ActionCredentialCreate || evs[0].TargetOfType(event.TargetCredential) == nil {
		t.Fatalf("create application credential: %+v %v", evs, err)
	}
}
