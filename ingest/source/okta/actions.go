package okta

import "github.com/scimwatch/scimwatch/event"

// actions maps Okta System Log event types to the canonical vocabulary.
// Types not listed map to event.ActionOther and keep their raw_type.
var actions = map[string]string{
	"user.lifecycle.create":             event.ActionUserCreate,
	"user.lifecycle.activate":           event.ActionUserActivate,
	"user.lifecycle.reactivate":         event.ActionUserReactivate,
	"user.lifecycle.deactivate":         event.ActionUserDeactivate,
	"user.lifecycle.suspend":            event.ActionUserSuspend,
	"user.lifecycle.unsuspend":          event.ActionUserUnsuspend,
	"user.lifecycle.delete.initiated":   event.ActionUserDelete,
	"user.account.update_profile":       event.ActionUserUpdate,
	"user.account.update_user_type":     event.ActionUserUpdate,
	"user.account.update_primary_email": event.ActionUserUpdate,
	"user.account.reset_password":       event.ActionPasswordReset,
	"user.account.update_password":      event.ActionPasswordReset,
	"user.mfa.factor.reset_all":         event.ActionMFAReset,
	"user.mfa.factor.deactivate":        event.ActionMFAReset,
	"user.session.start":                event.ActionUserLogin,
	"user.authentication.sso":           event.ActionUserLogin, // a sign-in to an app; the app is a target

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
	"AppUser":         event.TargetUser,
	"UserGroup":       event.TargetGroup,
	"Group":           event.TargetGroup,
	"AppInstance":     event.TargetApp,
	"PublicClientApp": event.TargetApp,
	"Application":     event.TargetApp,
	"ROLE":            event.TargetRole,
	"Role":            event.TargetRole,
	"CUSTOM_ROLE":     event.TargetRole,
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
