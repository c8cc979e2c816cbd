package gworkspace

import (
	"fmt"
	"slices"
	"strings"
	"testing"

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
