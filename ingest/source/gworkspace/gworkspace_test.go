package gworkspace

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/normtest"
)

// TestVendorShaped: records in the Reports API's own shape, each checked
// for action, outcome, actor and every target.
func TestVendorShaped(t *testing.T) {
	const admin, dana = "pat.admin@initech.example", "dana@initech.example"
	const eve, leaver = "user:eve.new@initech.example:", "user:leaver@initech.example:"
	type want struct {
		rawType, action, outcome, actor, actorType string
		targets                                    []string
	}
	wants := []want{
		{"admin.CREATE_USER", event.ActionUserCreate, event.OutcomeSuccess, admin, event.ActorUser, []string{eve}},
		// One activity, two events.
		{"admin.SUSPEND_USER", event.ActionUserSuspend, event.OutcomeSuccess, admin, event.ActorUser, []string{leaver}},
		{"admin.RESET_SIGNIN_COOKIES", event.ActionSessionRevoke, event.OutcomeSuccess, admin, event.ActorUser, []string{leaver}},
		{"admin.GRANT_ADMIN_PRIVILEGE", event.ActionRoleGrant, event.OutcomeSuccess, admin, event.ActorUser, []string{eve, "role::Super Admin"}},
		{"admin.ASSIGN_ROLE", event.ActionRoleGrant, event.OutcomeSuccess, admin, event.ActorUser, []string{eve, "role:3893423453159426:_GROUPS_ADMIN_ROLE"}},
		{"admin.ADD_GROUP_MEMBER", event.ActionGroupMemberAdd, event.OutcomeSuccess, admin, event.ActorUser,
			[]string{eve, "group:it-admins@initech.example:it-admins@initech.example"}},
		{"admin.AUTHORIZE_API_CLIENT_ACCESS", event.ActionRoleGrant, event.OutcomeSuccess, admin, event.ActorUser,
			[]string{"app:112233445566778899001:112233445566778899001", "role::https://www.googleapis.com/auth/gmail.readonly",
				"role::https://www.googleapis.com/auth/admin.directory.user"}},
		{"admin.DELETE_USER", event.ActionUserDelete, event.OutcomeSuccess, admin, event.ActorUser, []string{leaver}},
		{"login.login_success", event.ActionUserLogin, event.OutcomeSuccess, dana, event.ActorUser, []string{}},
		{"login.login_failure", event.ActionUserLogin, event.OutcomeFailure, dana, event.ActorUser, []string{}},
		{"login.logout", event.ActionUserLogout, event.OutcomeSuccess, dana, event.ActorUser, []string{}},
		{"login.account_disabled_password_leak", event.ActionUserSuspend, event.OutcomeSuccess, "google", event.ActorSystem, []string{"user:" + dana + ":"}},
		{"token.authorize", event.ActionAppConsent, event.OutcomeSuccess, dana, event.ActorUser,
			[]string{"app:1234567890-abcdefg.apps.googleusercontent.com:Mail Merge Pro", "role::https://www.googleapis.com/auth/gmail.send", "role::https://www.googleapis.com/auth/drive"}},
		{"groups.add_user", event.ActionGroupMemberAdd, event.OutcomeSuccess, "owner@initech.example", event.ActorUser,
			[]string{"group:finance@initech.example:finance@initech.example", eve}},
		{"groups_enterprise.add_member", event.ActionGroupMemberAdd, event.OutcomeSuccess, admin, event.ActorUser,
			[]string{"group:groups/01abcd:groups/01abcd", "user:contractor@partner.example:"}},
		// A list response: each activity.
		{"admin.UNSUSPEND_USER", event.ActionUserUnsuspend, event.OutcomeSuccess, "SYSTEM", event.ActorApp, []string{leaver}},
		{"admin.VERIFY_SECONDARY_DOMAIN", event.ActionDomainVerify, event.OutcomeSuccess, admin, event.ActorUser, []string{"other::initech-payments.example"}},
	}
	var evs []event.Event
	for _, raw := range normtest.Lines(t, "testdata/vendor-shaped.ndjson") {
		var err error
		if evs, err = (Normalizer{}).Normalize(evs, raw, "default"); err != nil {
			t.Fatal(err)
		}
	}
	if len(evs) != len(wants) {
		t.Fatalf("%d events, want %d", len(evs), len(wants))
	}
	for i, w := range wants {
		t.Run(fmt.Sprintf("%d %s", i+1, w.rawType), func(t *testing.T) {
			e := evs[i]
			got := []string{e.Source, e.Tenant, e.RawType, e.Action, e.Outcome, e.Actor.ID, e.Actor.Type}
			exp := []string{event.SourceGWorkspace, "C03az79cb", w.rawType, w.action, w.outcome, w.actor, w.actorType}
			if !slices.Equal(got, exp) {
				t.Errorf("source, tenant, raw_type, action, outcome, actor, actor type = %q, want %q", got, exp)
			}
			if ts := normtest.Targets(e.Targets); !slices.Equal(ts, w.targets) {
				t.Errorf("targets = %q, want %q", ts, w.targets)
			}
		})
	}
	// Ids are unique, and an activity of two events numbers them.
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.ID] {
			t.Errorf("id %s twice", e.ID)
		}
		seen[e.ID] = true
	}
	if !strings.HasSuffix(evs[1].ID, "#1") || !strings.HasSuffix(evs[2].ID, "#2") {
		t.Errorf("ids %s, %s: want #1 and #2", evs[1].ID, evs[2].ID)
	}
	if evs[9].Reason != "login_failure_invalid_password" || evs[8].Actor.IP != "198.51.100.61" {
		t.Errorf("failure reason %q, sign-in address %q", evs[9].Reason, evs[8].Actor.IP)
	}
}

// TestPantherSamples: the flattened form of public samples.
func TestPantherSamples(t *testing.T) {
	lines := normtest.Lines(t, "testdata/gworkspace-activity.ndjson")
	counts := map[string]int{}
	for i, raw := range lines {
		evs, err := Normalizer{}.Normalize(nil, raw, "default")
		if err != nil || len(evs) != 1 {
			t.Fatalf("line %d: %d events, %v", i+1, len(evs), err)
		}
		normtest.CheckEvents(t, evs)
		counts[evs[0].RawType+" "+evs[0].Action]++
	}
	for _, want := range []string{"admin.CREATE_USER user.create", "token.authorize app.consent", "admin.ADD_APPLICATION app.create", "admin.CREATE_ROLE other"} {
		if counts[want] == 0 {
			t.Errorf("no %s among %v", want, counts)
		}
	}
	evs, _ := Normalizer{}.Normalize(nil, []byte(`{"id":{"applicationName":"token","time":"2024-01-15 10:30:00.000000000","customerId":"C1"},`+
		`"actor":{"email":"u@x.com"},"name":"authorize","parameters":{"app_name":"App","client_id":"c-1","scope":["a.send","b.read"]}}`), "")
	if len(evs) != 1 || !slices.Equal(normtest.Targets(evs[0].Targets), []string{"app:c-1:App", "role::a.send", "role::b.read"}) {
		t.Errorf("flattened multi-valued parameters: %+v", evs)
	}
}

func TestRejects(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{`{"id":{"applicationName":"login"},"name":"logout"}`, "id.time: missing time"},
		{`{"id":{"time":"2026-11-18T21:00:00Z"},"name":"logout"}`, "no id.applicationName"},
		{`{"id":{"applicationName":"login","time":"2026-11-18T21:00:00Z"}}`, "no event"},
		{`{"id":{"applicationName":"admin","time":"2026-11-18T21:00:00Z"},"events":[{"name":"X","parameters":7}]}`, "events[0].parameters"},
		{`{"items":[{"id":{"applicationName":"admin","time":"2026-11-18T21:00:00Z"},"name":"X"},{"id":{}}]}`, "items[1]"},
	} {
		evs, err := Normalizer{}.Normalize(nil, []byte(tt.raw), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) || len(evs) != 0 {
			t.Errorf("%s: %d events, error %v, want %q", tt.raw, len(evs), err, tt.want)
		}
	}
}

// TestExports: Workspace audit records as they arrive in practice
// (testdata/exports.ndjson, written from the Reports API reference and
// Google's documentation of Workspace audit logs in Cloud Logging): split
// one event per record with events a single object, as Elastic Agent
// writes them, and Cloud Logging entries (protoPayload, its metadata's
// event and parameter lists, activityId's timeUsec and uniqQualifier).
func TestExports(t *testing.T) {
	const admin, lee = "it.admin@northwind.example", "lee.park@northwind.example"
	const leeT = "user:" + lee + ":"
	type shape normtest.Shape // its cases unkeyed
	tests := []shape{
		{"admin.CHANGE_PASSWORD", event.ActionPasswordReset, event.OutcomeSuccess, admin, []string{leeT}},
		{"admin.USER_ENROLLED_IN_TWO_STEP_VERIFICATION", event.ActionMFAEnroll, event.OutcomeSuccess, admin, []string{leeT}},
		{"admin.SECURITY_KEY_REGISTERED_FOR_USER", event.ActionMFAEnroll, event.OutcomeSuccess, admin, []string{leeT}},
		{"admin.GRANT_DELEGATED_ADMIN_PRIVILEGES", event.ActionRoleGrant, event.OutcomeSuccess, admin,
			[]string{"user:partner.ops@reseller.example:", "role::_SEED_ADMIN_ROLE"}},
		{"admin.MOVE_USER_TO_ORG_UNIT", event.ActionUserUpdate, event.OutcomeSuccess, admin, []string{leeT}},
		{"admin.CHANGE_USER_IM", event.ActionUserUpdate, event.OutcomeSuccess, admin, []string{leeT}},
		// A policy for an org unit, not a user enrolling.
		{"admin.ENFORCE_STRONG_AUTHENTICATION", event.ActionOther, event.OutcomeSuccess, admin, []string{}},
		{"admin.CHANGE_GROUP_DESCRIPTION", event.ActionGroupUpdate, event.OutcomeSuccess, admin,
			[]string{"group:eng-leads@northwind.example:eng-leads@northwind.example"}},
		{"saml.login_success", event.ActionUserLogin, event.OutcomeSuccess, lee, []string{"app:Salesforce:Salesforce"}},
		{"saml.login_failure", event.ActionUserLogin, event.OutcomeFailure, lee, []string{"app:Salesforce:Salesforce"}},
		{"user_accounts.2sv_enroll", event.ActionMFAEnroll, event.OutcomeSuccess, lee, []string{leeT}},
		{"user_accounts.password_edit", event.ActionPasswordChange, event.OutcomeSuccess, lee, []string{leeT}},
		{"admin.UNENROLL_USER_FROM_STRONG_AUTH", event.ActionMFARemove, event.OutcomeSuccess, admin, []string{leeT}},
		{"admin.REVOKE_3LO_DEVICE_TOKENS", event.ActionCredentialRevoke, event.OutcomeSuccess, admin, []string{leeT}},
		{"admin.UPLOAD_OAUTH_CERTIFICATE", event.ActionCredentialCreate, event.OutcomeSuccess, admin,
			[]string{"credential:oauth-consumer:northwind.example:OAuth consumer credential of northwind.example"}},
		{"login.login_success", event.ActionUserLogin, event.OutcomeSuccess, lee, []string{}},
		{"login.password_edit", event.ActionPasswordChange, event.OutcomeSuccess, lee, []string{leeT}},
	}
	lines := normtest.Lines(t, "testdata/exports.ndjson")
	if len(lines) != len(tests) {
		t.Fatalf("%d records, %d cases", len(lines), len(tests))
	}
	for i, tt := range tests {
		evs, err := Normalizer{}.Normalize(nil, lines[i], "northwind")
		if err != nil || len(evs) != 1 {
			t.Fatalf("line %d: %d events, %v", i+1, len(evs), err)
		}
		e := evs[0]
		normtest.CheckShape(t, fmt.Sprintf("line %d", i+1), e, normtest.Shape(tt))
		if e.Actor.IP == "" || e.CorrelationID == "" || !strings.HasPrefix(e.Time.Format(time.RFC3339), "2026-11-21T09:") {
			t.Errorf("line %d: ip %q, correlation %q, time %s", i+1, e.Actor.IP, e.CorrelationID, e.Time)
		}
	}
	// A Cloud Logging entry names the organization, not the customer: the
	// input's tenant is kept; without one, the organization's number.
	evs, _ := Normalizer{}.Normalize(nil, lines[12], "northwind")
	if evs[0].Tenant != "northwind" {
		t.Errorf("tenant %q", evs[0].Tenant)
	}
	evs, _ = Normalizer{}.Normalize(nil, lines[12], "")
	if evs[0].Tenant != "482516093714" {
		t.Errorf("tenant without a default %q", evs[0].Tenant)
	}
	// Another Google Cloud service's audit log is no Workspace activity.
	if _, err := (Normalizer{}).Normalize(nil, []byte(`{"protoPayload":{"serviceName":"iam.googleapis.com","methodName":"SetIamPolicy"},"timestamp":"2026-11-21T09:00:00Z"}`), ""); err == nil {
		t.Error("a Cloud IAM audit log was read as a Workspace activity")
	}
}
