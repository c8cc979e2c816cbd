package event

// The action vocabulary. Unknown source types map to ActionOther and keep
// their RawType: an event is never dropped for its type.
const (
	ActionUserCreate        = "user.create"
	ActionUserUpdate        = "user.update"
	ActionUserActivate      = "user.activate"
	ActionUserReactivate    = "user.reactivate"
	ActionUserDeactivate    = "user.deactivate"
	ActionUserSuspend       = "user.suspend"
	ActionUserUnsuspend     = "user.unsuspend"
	ActionUserDelete        = "user.delete"
	ActionUserLogin         = "user.login"
	ActionPasswordReset     = "user.password_reset"
	ActionMFAReset          = "user.mfa_reset"
	ActionGroupCreate       = "group.create"
	ActionGroupUpdate       = "group.update"
	ActionGroupDelete       = "group.delete"
	ActionGroupMemberAdd    = "group.member.add"
	ActionGroupMemberRemove = "group.member.remove"
	ActionRoleGrant         = "role.grant"
	ActionRoleRevoke        = "role.revoke"
	ActionAppAssign         = "app.assign"
	ActionAppUnassign       = "app.unassign"
	ActionAppProvision      = "app.provision"
	ActionCredentialCreate  = "credential.create"
	ActionCredentialRevoke  = "credential.revoke"
	ActionOther             = "other"

	// Added in vocabulary version 2.
	ActionUserLock           = "user.lock"
	ActionUserUnlock         = "user.unlock"
	ActionUserLogout         = "user.logout"
	ActionSessionRevoke      = "user.session_revoke"
	ActionPasswordChange     = "user.password_change"
	ActionMFAEnroll          = "user.mfa_enroll"
	ActionMFARemove          = "user.mfa_remove"
	ActionAppCreate          = "app.create"
	ActionAppUpdate          = "app.update"
	ActionAppDelete          = "app.delete"
	ActionAppConsent         = "app.consent"
	ActionDomainAdd          = "domain.add"
	ActionDomainVerify       = "domain.verify"
	ActionDomainRemove       = "domain.remove"
	ActionDevicePasswordRead = "device.password_read"
)

// VocabularyVersion is the version of the action vocabulary. A version
// only ever adds actions: version 1 was the 24 from user.create to other;
// version 2 added account lock and unlock, logout and session revocation,
// a user's own password change, MFA factor enrolment and removal,
// application (service principal) lifecycle and consent, domains, and
// device local-admin password reads.
const VocabularyVersion = 2

// Actions lists the whole vocabulary in a stable order.
var Actions = []string{
	ActionUserCreate, ActionUserUpdate, ActionUserActivate, ActionUserReactivate,
	ActionUserDeactivate, ActionUserSuspend, ActionUserUnsuspend, ActionUserDelete,
	ActionUserLogin, ActionPasswordReset, ActionMFAReset,
	ActionGroupCreate, ActionGroupUpdate, ActionGroupDelete,
	ActionGroupMemberAdd, ActionGroupMemberRemove,
	ActionRoleGrant, ActionRoleRevoke,
	ActionAppAssign, ActionAppUnassign, ActionAppProvision,
	ActionCredentialCreate, ActionCredentialRevoke,
	ActionOther,
	ActionUserLock, ActionUserUnlock, ActionUserLogout, ActionSessionRevoke,
	ActionPasswordChange, ActionMFAEnroll, ActionMFARemove,
	ActionAppCreate, ActionAppUpdate, ActionAppDelete, ActionAppConsent,
	ActionDomainAdd, ActionDomainVerify, ActionDomainRemove,
	ActionDevicePasswordRead,
}

var actionSet = func() map[string]bool {
	m := make(map[string]bool, len(Actions))
	for _, a := range Actions {
		m[a] = true
	}
	return m
}()

// ValidAction reports whether a is in the vocabulary.
func ValidAction(a string) bool { return actionSet[a] }
