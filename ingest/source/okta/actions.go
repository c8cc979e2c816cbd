package okta

import "github.com/scimwatch/scimwatch/event"

// actions maps Okta System Log event types to the canonical vocabulary.
// Types not listed map to event.ActionOther and keep their raw_type.
var actions = map[string]string{
	"user.lifecycle.create":                 event.ActionUserCreate,
	"user.lifecycle.activate":               event.ActionUserActivate,
	"user.lifecycle.reactivate":             event.ActionUserReactivate,
	"user.lifecycle.deactivate":             event.ActionUserDeactivate,
	"user.lifecycle.suspend":                event.ActionUserSuspend,
	"user.lifecycle.unsuspend":              event.ActionUserUnsuspend,
	"user.lifecycle.delete.initiated":       event.ActionUserDelete,
	"user.account.update_profile":           event.ActionUserUpdate,
	"user.account.update_user_type":         event.ActionUserUpdate,
	"user.account.update_primary_email":     event.ActionUserUpdate,
	"user.account.reset_password":           event.ActionPasswordReset,
	"user.account.update_password":          event.ActionPasswordChange, // a reset when the actor is not the user
	"system.agent.ad.reset_user_password":   event.ActionPasswordReset,
	"system.agent.ldap.reset_user_password": event.ActionPasswordReset,
	"user.mfa.factor.reset_all":             event.ActionMFAReset,
	"user.mfa.factor.activate":              event.ActionMFAEnroll,
	"user.mfa.factor.deactivate":            event.ActionMFARemove,
	"user.session.start":                    event.ActionUserLogin,
	"user.authentication.sso":               event.ActionUserLogin, // a sign-in to an app; the app is a target
	"user.session.end":                      event.ActionUserLogout,
	"user.session.clear":                    event.ActionSessionRevoke,
	"user.account.lock":                     event.ActionUserLock,
	"user.account.lock.limit":               event.ActionUserLock,
	"user.account.unlock":                   event.ActionUserUnlock,
	"user.account.unlock_by_admin":          event.ActionUserUnlock,
	"system.agent.ad.unlock_user_account":   event.ActionUserUnlock,
	"system.agent.ldap.unlock_user_account": event.ActionUserUnlock,

	"user.account.privilege.grant":       event.ActionRoleGrant,
	"user.account.privilege.revoke":      event.ActionRoleRevoke,
	"group.privilege.grant":              event.ActionRoleGrant,
	"group.privilege.revoke":             event.ActionRoleRevoke,
	"iam.resourceset.bindings.add":       event.ActionRoleGrant,
	"iam.resourceset.bindings.delete":    event.ActionRoleRevoke,
	"app.oauth2.client.privilege.grant":  event.ActionRoleGrant,
	"app.oauth2.client.privilege.revoke": event.ActionRoleRevoke,

	"group.lifecycle.create":       event.ActionGroupCreate,
	"group.profile.update":         event.ActionGroupUpdate,
	"group.lifecycle.delete":       event.ActionGroupDelete,
	"group.user_membership.add":    event.ActionGroupMemberAdd,
	"group.user_membership.remove": event.ActionGroupMemberRemove,
	// Groups and their members imported from an app (Active Directory,
	// an HR system, an app with its own groups).
	"app.user_management.user_group_import.upsert_success": event.ActionGroupUpdate,
	"app.user_management.user_group_import.delete_success": event.ActionGroupDelete,

	"application.user_membership.add":               event.ActionAppAssign,
	"application.user_membership.remove":            event.ActionAppUnassign,
	"application.user_membership.deprovision":       event.ActionAppUnassign,
	"application.provision.user.push":               event.ActionAppProvision,
	"application.provision.user.push_profile":       event.ActionAppProvision,
	"application.provision.user.sync":               event.ActionAppProvision,
	"application.provision.user.activate":           event.ActionAppProvision,
	"application.provision.user.reactivate":         event.ActionAppProvision,
	"application.provision.user.deactivate":         event.ActionAppProvision,
	"application.provision.user.deprovision":        event.ActionAppProvision,
	"application.provision.group.add":               event.ActionAppProvision,
	"application.provision.group.update":            event.ActionAppProvision,
	"application.provision.group.remove":            event.ActionAppProvision,
	"application.provision.group_membership.add":    event.ActionAppProvision,
	"application.provision.group_membership.remove": event.ActionAppProvision,
	"application.provision.group_membership.update": event.ActionAppProvision,

	"application.lifecycle.create":     event.ActionAppCreate,
	"application.lifecycle.update":     event.ActionAppUpdate,
	"application.lifecycle.activate":   event.ActionAppUpdate,
	"application.lifecycle.deactivate": event.ActionAppUpdate,
	"application.lifecycle.delete":     event.ActionAppDelete,
	"app.oauth2.as.consent.grant":      event.ActionAppConsent,
	"app.oauth2.consent.grant":         event.ActionAppConsent,
	"app.oauth2.admin.consent.grant":   event.ActionAppConsent,

	"system.email_domain.create":        event.ActionDomainAdd,
	"system.email_domain.verify":        event.ActionDomainVerify,
	"system.email_domain.delete":        event.ActionDomainRemove,
	"system.custom_url_domain.initiate": event.ActionDomainAdd,
	"system.custom_url_domain.verify":   event.ActionDomainVerify,
	"system.custom_url_domain.delete":   event.ActionDomainRemove,

	"system.api_token.create":                 event.ActionCredentialCreate,
	"system.api_token.revoke":                 event.ActionCredentialRevoke,
	"app.oauth2.client.lifecycle.create":      event.ActionCredentialCreate,
	"app.oauth2.client.lifecycle.delete":      event.ActionCredentialRevoke,
	"app.oauth2.credentials.lifecycle.create": event.ActionCredentialCreate,
	"app.oauth2.credentials.lifecycle.delete": event.ActionCredentialRevoke,
}

// Action returns the canonical action of an Okta event type.
func Action(eventType string) string {
	if a, ok := actions[eventType]; ok {
		return a
	}
	return event.ActionOther
}

// targetTypes maps Okta target types to canonical target types.
var targetTypes = map[string]string{
	"User":            event.TargetUser,
	"AppUser":         event.TargetAppUser,
	"UserGroup":       event.TargetGroup,
	"AppGroup":        event.TargetGroup,
	"APP_GROUP":       event.TargetGroup,
	"Group":           event.TargetGroup,
	"AppInstance":     event.TargetApp,
	"PublicClientApp": event.TargetApp,
	"Application":     event.TargetApp,
	"ROLE":            event.TargetRole,
	"Role":            event.TargetRole,
	"CUSTOM_ROLE":     event.TargetRole,
	"Scope":           event.TargetRole, // an OAuth scope consented to
	"Token":           event.TargetCredential,
	"ApiToken":        event.TargetCredential,
	"Key":             event.TargetCredential,
	"ClientSecret":    event.TargetCredential,
}

func targetType(t string) string {
	if v, ok := targetTypes[t]; ok {
		return v
	}
	return event.TargetOther
}

func actorType(t string) string {
	switch t {
	case "User":
		return event.ActorUser
	case "PublicClientApp", "AppInstance", "Client", "Application", "OAuth2Client":
		return event.ActorApp
	}
	return event.ActorSystem
}

// Mapping is one raw type and the action it maps to.
type Mapping struct {
	RawType, Action, Note string
}

// Mappings lists every event type the normalizer maps, for the README's
// generated table.
func Mappings() []Mapping {
	out := make([]Mapping, 0, len(actions)+1)
	out = append(out, Mapping{"app.user_management", event.ActionGroupMemberAdd,
		"with a user and a group target, by its message: added or imported (group.member.remove when removed); else other"})
	for t, a := range actions {
		note := ""
		if t == "user.account.update_password" {
			note = "user.password_reset when the actor is not the user"
		}
		out = append(out, Mapping{t, a, note})
	}
	return out
}
