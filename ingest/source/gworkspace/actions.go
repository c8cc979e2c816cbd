package gworkspace

import (
	"strings"

	"github.com/scimwatch/scimwatch/event"
)

// actions maps "application/EVENT_NAME" to canonical actions. Names not
// listed map to event.ActionOther and keep their raw type.
var actions = map[string]string{
	// admin: users.
	"admin/CREATE_USER":                    event.ActionUserCreate,
	"admin/DELETE_USER":                    event.ActionUserDelete,
	"admin/UNDELETE_USER":                  event.ActionUserReactivate,
	"admin/SUSPEND_USER":                   event.ActionUserSuspend,
	"admin/UNSUSPEND_USER":                 event.ActionUserUnsuspend,
	"admin/ARCHIVE_USER":                   event.ActionUserDeactivate,
	"admin/UNARCHIVE_USER":                 event.ActionUserReactivate,
	"admin/CHANGE_PASSWORD":                event.ActionPasswordReset,
	"admin/CHANGE_USER_NAME":               event.ActionUserUpdate,
	"admin/CHANGE_FIRST_NAME":              event.ActionUserUpdate,
	"admin/CHANGE_LAST_NAME":               event.ActionUserUpdate,
	"admin/CHANGE_USER_ORGANIZATION":       event.ActionUserUpdate,
	"admin/RENAME_USER":                    event.ActionUserUpdate,
	"admin/RESET_SIGNIN_COOKIES":           event.ActionSessionRevoke,
	"admin/TURN_OFF_2_STEP_VERIFICATION":   event.ActionMFARemove,
	"admin/REVOKE_SECURITY_KEY":            event.ActionMFARemove,
	"admin/UNENROLL_USER_FROM_STRONG_AUTH": event.ActionMFARemove,
	// A user enrolled in 2-step verification, or given a security key.
	// (ENFORCE_STRONG_AUTHENTICATION is a policy for an org unit, not a
	// user's enrolment: other.)
	"admin/USER_ENROLLED_IN_TWO_STEP_VERIFICATION": event.ActionMFAEnroll,
	"admin/SECURITY_KEY_REGISTERED_FOR_USER":       event.ActionMFAEnroll,
	"admin/REVOKE_3LO_TOKEN":                       event.ActionCredentialRevoke,
	"admin/REVOKE_3LO_DEVICE_TOKENS":               event.ActionCredentialRevoke,
	"admin/REVOKE_ASP":                             event.ActionCredentialRevoke,
	// An OAuth client's certificate uploaded, its consumer secret made anew.
	"admin/UPLOAD_OAUTH_CERTIFICATE":         event.ActionCredentialCreate,
	"admin/REGENERATE_OAUTH_CONSUMER_SECRET": event.ActionCredentialCreate,
	// A user's profile: the CHANGE_USER_* family (any not listed maps too),
	// recovery email and phone, nicknames, birthdate, the org unit.
	"admin/CHANGE_USER_ADDRESS":      event.ActionUserUpdate,
	"admin/CHANGE_USER_CUSTOM_FIELD": event.ActionUserUpdate,
	"admin/CHANGE_USER_EXTERNAL_ID":  event.ActionUserUpdate,
	"admin/CHANGE_USER_LOCATION":     event.ActionUserUpdate,
	"admin/CHANGE_USER_PHONE_NUMBER": event.ActionUserUpdate,
	"admin/CHANGE_USER_RELATION":     event.ActionUserUpdate,
	"admin/CHANGE_RECOVERY_EMAIL":    event.ActionUserUpdate,
	"admin/CHANGE_RECOVERY_PHONE":    event.ActionUserUpdate,
	"admin/ADD_NICKNAME":             event.ActionUserUpdate,
	"admin/REMOVE_NICKNAME":          event.ActionUserUpdate,
	"admin/CHANGE_BIRTHDATE":         event.ActionUserUpdate,
	"admin/MOVE_USER_TO_ORG_UNIT":    event.ActionUserUpdate,
	// admin: roles. GRANT_ADMIN_PRIVILEGE makes a super administrator;
	// ASSIGN_ROLE gives an admin role.
	"admin/GRANT_ADMIN_PRIVILEGE":  event.ActionRoleGrant,
	"admin/REVOKE_ADMIN_PRIVILEGE": event.ActionRoleRevoke,
	"admin/ASSIGN_ROLE":            event.ActionRoleGrant,
	"admin/UNASSIGN_ROLE":          event.ActionRoleRevoke,
	// A reseller or partner given delegated administration of the
	// customer.
	"admin/GRANT_DELEGATED_ADMIN_PRIVILEGES":  event.ActionRoleGrant,
	"admin/REVOKE_DELEGATED_ADMIN_PRIVILEGES": event.ActionRoleRevoke,
	// admin: domain-wide delegation: an API client given scopes over every
	// user's data, the most powerful grant in Workspace.
	"admin/AUTHORIZE_API_CLIENT_ACCESS": event.ActionRoleGrant,
	"admin/REMOVE_API_CLIENT_ACCESS":    event.ActionRoleRevoke,
	// admin: groups.
	"admin/CREATE_GROUP":             event.ActionGroupCreate,
	"admin/DELETE_GROUP":             event.ActionGroupDelete,
	"admin/CHANGE_GROUP_NAME":        event.ActionGroupUpdate,
	"admin/CHANGE_GROUP_SETTING":     event.ActionGroupUpdate,
	"admin/CHANGE_GROUP_DESCRIPTION": event.ActionGroupUpdate,
	"admin/CHANGE_GROUP_EMAIL":       event.ActionGroupUpdate,
	"admin/ADD_GROUP_ALIAS":          event.ActionGroupUpdate,
	"admin/REMOVE_GROUP_ALIAS":       event.ActionGroupUpdate,
	"admin/ADD_GROUP_MEMBER":         event.ActionGroupMemberAdd,
	"admin/REMOVE_GROUP_MEMBER":      event.ActionGroupMemberRemove,
	// admin: apps and domains.
	"admin/ADD_APPLICATION":         event.ActionAppCreate,
	"admin/REMOVE_APPLICATION":      event.ActionAppDelete,
	"admin/ADD_SECONDARY_DOMAIN":    event.ActionDomainAdd,
	"admin/ADD_DOMAIN_ALIAS":        event.ActionDomainAdd,
	"admin/VERIFY_SECONDARY_DOMAIN": event.ActionDomainVerify,
	"admin/VERIFY_DOMAIN_ALIAS":     event.ActionDomainVerify,
	"admin/REMOVE_SECONDARY_DOMAIN": event.ActionDomainRemove,
	"admin/REMOVE_DOMAIN_ALIAS":     event.ActionDomainRemove,

	// login.
	"login/login_success": event.ActionUserLogin,
	"login/login_failure": event.ActionUserLogin,
	"login/logout":        event.ActionUserLogout,
	// The user's own account settings, in the login log (as Cloud Logging
	// has them) and the user_accounts application (as the Reports API has
	// them): 2-step verification, password, recovery information.
	"login/2sv_enroll":                      event.ActionMFAEnroll,
	"login/2sv_disable":                     event.ActionMFARemove,
	"login/password_edit":                   event.ActionPasswordChange,
	"login/recovery_email_edit":             event.ActionUserUpdate,
	"login/recovery_phone_edit":             event.ActionUserUpdate,
	"login/recovery_secret_qa_edit":         event.ActionUserUpdate,
	"user_accounts/2sv_enroll":              event.ActionMFAEnroll,
	"user_accounts/2sv_disable":             event.ActionMFARemove,
	"user_accounts/titanium_enroll":         event.ActionMFAEnroll,
	"user_accounts/titanium_unenroll":       event.ActionMFARemove,
	"user_accounts/password_edit":           event.ActionPasswordChange,
	"user_accounts/recovery_email_edit":     event.ActionUserUpdate,
	"user_accounts/recovery_phone_edit":     event.ActionUserUpdate,
	"user_accounts/recovery_secret_qa_edit": event.ActionUserUpdate,
	// Sign-ins to apps through Workspace as a SAML identity provider.
	"saml/login_success": event.ActionUserLogin,
	"saml/login_failure": event.ActionUserLogin,
	// Google disabled an account (hijacked, spamming, a leaked password).
	"login/account_disabled_generic":                event.ActionUserSuspend,
	"login/account_disabled_hijacked":               event.ActionUserSuspend,
	"login/account_disabled_password_leak":          event.ActionUserSuspend,
	"login/account_disabled_spamming":               event.ActionUserSuspend,
	"login/account_disabled_spamming_through_relay": event.ActionUserSuspend,

	// token: OAuth grants to third-party apps.
	"token/authorize": event.ActionAppConsent,
	"token/revoke":    event.ActionCredentialRevoke,

	// groups (Google Groups) and groups_enterprise (Cloud Identity).
	"groups/create_group":                   event.ActionGroupCreate,
	"groups/delete_group":                   event.ActionGroupDelete,
	"groups/add_user":                       event.ActionGroupMemberAdd,
	"groups/join":                           event.ActionGroupMemberAdd,
	"groups/accept_invitation":              event.ActionGroupMemberAdd,
	"groups/approve_join_request":           event.ActionGroupMemberAdd,
	"groups/remove_user":                    event.ActionGroupMemberRemove,
	"groups/leave":                          event.ActionGroupMemberRemove,
	"groups/change_basic_setting":           event.ActionGroupUpdate,
	"groups/change_info_setting":            event.ActionGroupUpdate,
	"groups/change_acl_permission":          event.ActionGroupUpdate,
	"groups_enterprise/create_group":        event.ActionGroupCreate,
	"groups_enterprise/delete_group":        event.ActionGroupDelete,
	"groups_enterprise/add_member":          event.ActionGroupMemberAdd,
	"groups_enterprise/remove_member":       event.ActionGroupMemberRemove,
	"groups_enterprise/change_info_setting": event.ActionGroupUpdate,
}

// Action returns the canonical action of an application's event name.
// Families Google adds to over time map by their form: admin's
// CHANGE_USER_* are user.update, Groups' change_*_setting group.update.
func Action(app, name string) string {
	if a, ok := actions[app+"/"+name]; ok {
		return a
	}
	switch {
	case app == "admin" && strings.HasPrefix(name, "CHANGE_USER_"):
		return event.ActionUserUpdate
	case (app == "groups" || app == "groups_enterprise") && strings.HasPrefix(name, "change_") && strings.HasSuffix(name, "_setting"):
		return event.ActionGroupUpdate
	}
	return event.ActionOther
}

// mapEvent fills in e's raw type, action, outcome and targets from one
// event of application app.
func mapEvent(e *event.Event, app, typ, name string, p params) {
	e.RawType = app + "." + name
	if name == "" {
		e.RawType = app + "." + typ
	}
	e.Action = Action(app, name)
	if name == "login_failure" {
		e.Outcome = event.OutcomeFailure
		e.Reason = pFirst(p, "login_failure_type", "failure_type", "saml_status_code")
	}
	var ts []event.Target
	user := func(email string) {
		if email != "" {
			ts = append(ts, event.Target{ID: email, Type: event.TargetUser, Email: email})
		}
	}
	group := func(email string) {
		if email != "" {
			ts = append(ts, event.Target{ID: email, Type: event.TargetGroup, Name: email})
		}
	}
	switch app {
	case "admin":
		user(p.get("USER_EMAIL"))
		group(p.get("GROUP_EMAIL"))
		switch name {
		case "GRANT_ADMIN_PRIVILEGE", "REVOKE_ADMIN_PRIVILEGE":
			ts = append(ts, event.Target{Type: event.TargetRole, Name: "Super Admin"})
		case "AUTHORIZE_API_CLIENT_ACCESS", "REMOVE_API_CLIENT_ACCESS":
			ts = append(ts, event.Target{ID: p.get("API_CLIENT_NAME"), Type: event.TargetApp, Name: p.get("API_CLIENT_NAME")})
			for _, s := range scopes(p["API_SCOPES"]) {
				ts = append(ts, event.Target{Type: event.TargetRole, Name: s})
			}
		case "UPLOAD_OAUTH_CERTIFICATE", "REGENERATE_OAUTH_CONSUMER_SECRET":
			// The domain's OAuth consumer credential (for apps that
			// sign requests as the domain).
			if d := p.get("DOMAIN_NAME"); d != "" {
				ts = append(ts, event.Target{ID: "oauth-consumer:" + d, Type: event.TargetCredential, Name: "OAuth consumer credential of " + d})
			}
		case "ADD_APPLICATION", "REMOVE_APPLICATION":
			ts = append(ts, event.Target{ID: p.get("APP_ID"), Type: event.TargetApp, Name: p.get("APPLICATION_NAME")})
		}
		if r := p.get("ROLE_NAME"); r != "" {
			ts = append(ts, event.Target{ID: p.get("ROLE_ID"), Type: event.TargetRole, Name: r})
		}
		if d := p.get("DOMAIN_NAME"); d != "" && strings.Contains(name, "DOMAIN") {
			ts = append(ts, event.Target{Type: event.TargetOther, Name: d})
		}
		if s := p.get("SETTING_NAME"); s != "" || p.get("NEW_VALUE") != "" {
			e.Changes = append(e.Changes, event.Change{Field: s, Old: p.get("OLD_VALUE"), New: p.get("NEW_VALUE")})
		}
	case "login":
		// account_warning events are about the affected user, whoever the
		// actor is (often no one: Google).
		if u := p.get("affected_email_address"); u != "" && (typ == "account_warning" || e.Actor.Email == "") {
			user(u)
		}
		if typ == "account_warning" {
			e.Actor = event.Actor{ID: "google", Type: event.ActorSystem, IP: e.Actor.IP}
		}
		switch name {
		case "2sv_enroll", "2sv_disable", "password_edit", "recovery_email_edit", "recovery_phone_edit", "recovery_secret_qa_edit":
			// The actor's own account.
			if len(ts) == 0 {
				user(e.Actor.Email)
			}
		}
	case "saml":
		// The app signed in to, by its name in the Admin console.
		if a := p.get("application_name"); a != "" {
			ts = append(ts, event.Target{ID: a, Type: event.TargetApp, Name: a})
		}
	case "user_accounts":
		// The actor's own account.
		user(e.Actor.Email)
	case "token":
		ts = append(ts, event.Target{ID: p.get("client_id"), Type: event.TargetApp, Name: p.get("app_name")})
		for _, s := range scopes(p["scope"]) {
			ts = append(ts, event.Target{Type: event.TargetRole, Name: s})
		}
	case "groups", "groups_enterprise":
		group(pFirst(p, "group_email", "group_id"))
		if m := pFirst(p, "user_email", "member_id"); m != "" {
			user(m)
		} else if name == "join" || name == "leave" {
			user(e.Actor.Email)
		}
		if r := p.get("member_role"); r != "" {
			e.Changes = append(e.Changes, event.Change{Field: "member_role", New: r})
		}
	}
	e.Targets = ts
}

// scopes reads OAuth scopes: one value a scope, or a value of several
// separated by commas or spaces.
func scopes(vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}

func pFirst(p params, names ...string) string {
	for _, n := range names {
		if v := p.get(n); v != "" {
			return v
		}
	}
	return ""
}

// Mapping is one raw type and the action it maps to.
type Mapping struct {
	RawType, Action, Note string
}

// Mappings lists every event the normalizer maps, for the README's
// generated table. Raw types are "application.EVENT_NAME".
func Mappings() []Mapping {
	out := make([]Mapping, 0, len(actions))
	for k, a := range actions {
		app, name, _ := strings.Cut(k, "/")
		out = append(out, Mapping{app + "." + name, a, ""})
	}
	out = append(out, Mapping{"admin.CHANGE_USER_*", event.ActionUserUpdate, "any other CHANGE_USER_ event"},
		Mapping{"groups.change_*_setting", event.ActionGroupUpdate, "also groups_enterprise"})
	return out
}
