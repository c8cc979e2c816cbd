package entra

import (
	"strings"
	"unicode"

	"github.com/scimwatch/scimwatch/event"
)

// auditActions maps directoryAudit activity names to canonical actions,
// by their key (activityKey: lower case, dashes and spaces folded), so that
// "Update application – Certificates and secrets management " (an en dash
// and a trailing space, as Entra writes it) matches. Role activities are
// matched by prefix in auditAction, since PIM adds suffixes such as "in
// PIM completed (permanent)".
var auditActions = func() map[string]string {
	m := map[string]string{}
	for name, action := range auditNames {
		m[activityKey(name)] = action
	}
	return m
}()

// auditNames are the activity names as Microsoft documents them.
var auditNames = map[string]string{
	"Add user":                                   event.ActionUserCreate,
	"Invite external user":                       event.ActionUserCreate,
	"Update user":                                event.ActionUserUpdate,
	"Disable account":                            event.ActionUserDeactivate,
	"Enable account":                             event.ActionUserActivate,
	"Delete user":                                event.ActionUserDelete,
	"Hard delete user":                           event.ActionUserDelete,
	"Restore user":                               event.ActionUserReactivate,
	"Reset user password":                        event.ActionPasswordReset,
	"Reset password (by admin)":                  event.ActionPasswordReset,
	"Reset password (self-service)":              event.ActionPasswordReset,
	"Change user password":                       event.ActionPasswordChange,
	"Change password (self-service)":             event.ActionPasswordChange,
	"Invalidate all refresh tokens for user":     event.ActionSessionRevoke,
	"Admin deleted security info":                event.ActionMFAReset,
	"Reset strong authentication":                event.ActionMFAReset,
	"Admin registered security info":             event.ActionMFAEnroll,
	"User registered security info":              event.ActionMFAEnroll,
	"User registered all required security info": event.ActionMFAEnroll,
	"User changed default security info":         event.ActionMFAEnroll,
	"User deleted security info":                 event.ActionMFARemove,
	"Add group":                                  event.ActionGroupCreate,
	"Update group":                               event.ActionGroupUpdate,
	"Delete group":                               event.ActionGroupDelete,
	"Hard Delete group":                          event.ActionGroupDelete,
	"Add member to group":                        event.ActionGroupMemberAdd,
	"Add owner to group":                         event.ActionGroupMemberAdd,
	"Remove member from group":                   event.ActionGroupMemberRemove,
	"Remove owner from group":                    event.ActionGroupMemberRemove,

	// Applications: a user or group assigned to an app is app.assign;
	// a permission granted to an app (an application permission, a
	// delegated grant) or ownership of it is a privilege: role.grant.
	"Add app role assignment to user":                   event.ActionAppAssign,
	"Add app role assignment grant to user":             event.ActionAppAssign,
	"Add app role assignment to group":                  event.ActionAppAssign,
	"Remove app role assignment from user":              event.ActionAppUnassign,
	"Remove app role assignment from group":             event.ActionAppUnassign,
	"Add app role assignment to service principal":      event.ActionRoleGrant,
	"Remove app role assignment from service principal": event.ActionRoleRevoke,
	"Add delegated permission grant":                    event.ActionRoleGrant,
	"Remove delegated permission grant":                 event.ActionRoleRevoke,
	"Add owner to application":                          event.ActionRoleGrant,
	"Remove owner from application":                     event.ActionRoleRevoke,
	"Add owner to service principal":                    event.ActionRoleGrant,
	"Remove owner from service principal":               event.ActionRoleRevoke,
	"Consent to application":                            event.ActionAppConsent,
	"Add application":                                   event.ActionAppCreate,
	"Update application":                                event.ActionAppUpdate,
	"Delete application":                                event.ActionAppDelete,
	"Hard delete application":                           event.ActionAppDelete,
	"Add service principal":                             event.ActionAppCreate,
	"Update service principal":                          event.ActionAppUpdate,
	"Remove service principal":                          event.ActionAppDelete,
	"Delete service principal":                          event.ActionAppDelete,
	"Hard delete service principal":                     event.ActionAppDelete,
	// Credentials of applications and service principals. "Update
	// application - Certificates and secrets management" adds or
	// removes one: credentialAction tells which from the key lists.
	"Add service principal credentials":                              event.ActionCredentialCreate,
	"Remove service principal credentials":                           event.ActionCredentialRevoke,
	"Update application - Certificates and secrets management":       event.ActionCredentialCreate,
	"Create application - Certificates and secrets management":       event.ActionCredentialCreate,
	"Update service principal - Certificates and secrets management": event.ActionCredentialCreate,
	"Add federated identity credential":                              event.ActionCredentialCreate,
	"Update federated identity credential":                           event.ActionCredentialCreate,
	"Remove federated identity credential":                           event.ActionCredentialRevoke,
	"Delete federated identity credential":                           event.ActionCredentialRevoke,

	// Domains.
	"Add unverified domain":    event.ActionDomainAdd,
	"Add verified domain":      event.ActionDomainAdd,
	"Verify domain":            event.ActionDomainVerify,
	"Remove unverified domain": event.ActionDomainRemove,
	"Remove verified domain":   event.ActionDomainRemove,
	"Delete domain":            event.ActionDomainRemove,

	// Reads of a device's secrets: the local administrator password
	// (Windows LAPS) and BitLocker recovery keys.
	"Recover device local administrator password": event.ActionDevicePasswordRead,
	"Read BitLocker key":                          event.ActionDevicePasswordRead,

	"Delete role assignment": event.ActionRoleRevoke,
	"Remove role assignment": event.ActionRoleRevoke,
	"Create role assignment": event.ActionRoleGrant,
	"User has elevated their access to User Access Administrator for their Azure Resources": event.ActionRoleGrant,
}

// activityKey folds an activity name for matching: trimmed, lower case,
// every dash (hyphen, en dash, em dash, minus) a hyphen, runs of spaces one.
func activityKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch r {
		case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
			r = '-'
		case '\u00a0', '\t':
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// auditAction returns the canonical action of a directoryAudit activity.
//
// Every "Add member to role…" and "Add eligible member to role…" activity
// is a role.grant (classic, PIM completed, PIM activation, outside PIM), and
// "Remove … from role…" a role.revoke, except PIM *requests*: a request is
// followed by its own "completed" record, so counting both would double
// every grant. Requests map to other.
func auditAction(activity string) string {
	if a, ok := auditNames[activity]; ok { // as documented
		return a
	}
	if a, ok := roleAction(activity); ok {
		return a
	}
	// Folded: case, spacing and dashes as Entra happens to write them.
	key := activityKey(activity)
	if a, ok := auditActions[key]; ok {
		return a
	}
	if a, ok := roleAction(key); ok {
		return a
	}
	return event.ActionOther
}

// roleAction matches the role activities by prefix, case-insensitively and
// without allocating.
func roleAction(activity string) (string, bool) {
	if containsFold(activity, "requested") {
		return event.ActionOther, true
	}
	for _, p := range []string{"add member to role", "add eligible member to role", "add scoped member to role"} {
		if hasPrefixFold(activity, p) {
			return event.ActionRoleGrant, true
		}
	}
	for _, p := range []string{"remove member from role", "remove eligible member from role", "remove scoped member from role"} {
		if hasPrefixFold(activity, p) {
			return event.ActionRoleRevoke, true
		}
	}
	return "", false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// containsFold reports whether s contains sub, a lower-case ASCII word,
// ignoring ASCII case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// provisioningAction maps a provisioningObjectSummary's provisioningAction
// (create, update, delete, disable, stagedDelete, other) and the type of
// the identity it acted on to a canonical action.
func provisioningAction(action, identityType string) string {
	group := isGroup(identityType)
	switch strings.ToLower(action) {
	case "create":
		if group {
			return event.ActionGroupCreate
		}
		return event.ActionUserCreate
	case "update":
		if group {
			return event.ActionGroupUpdate
		}
		return event.ActionUserUpdate
	case "delete":
		if group {
			return event.ActionGroupDelete
		}
		return event.ActionUserDelete
	case "disable", "stageddelete":
		if group {
			return event.ActionGroupUpdate
		}
		return event.ActionUserDeactivate
	case "enable":
		if group {
			return event.ActionGroupUpdate
		}
		return event.ActionUserActivate
	}
	return event.ActionAppProvision
}

// targetType maps Entra targetResources types.
func targetType(t string) string {
	switch strings.ToLower(t) {
	case "user":
		return event.TargetUser
	case "group":
		return event.TargetGroup
	case "role", "roledefinition", "directoryrole":
		return event.TargetRole
	case "serviceprincipal", "application":
		return event.TargetApp
	}
	return event.TargetOther
}

// isGroup reports whether a provisioning identity type is a group: "Group",
// or a SCIM schema URN ending in ":Group".
func isGroup(identityType string) bool {
	t := identityType
	if i := strings.LastIndexByte(t, ':'); i >= 0 {
		t = t[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(t), "group")
}

// Mapping is one raw type and the action it maps to.
type Mapping struct {
	RawType, Action, Note string
}

// Mappings lists what the normalizer maps, for the README's generated
// table: every audit activity name, the role activities matched by
// prefix, the provisioning actions, sign-ins, risk detections and Graph
// activity.
func Mappings() []Mapping {
	var out []Mapping
	for name, a := range auditNames {
		out = append(out, Mapping{name, a, "audit"})
	}
	for _, p := range []string{"Add member to role", "Add eligible member to role", "Add scoped member to role"} {
		out = append(out, Mapping{p + "…", event.ActionRoleGrant, "audit, by prefix (PIM suffixes); requests are other"})
	}
	for _, p := range []string{"Remove member from role", "Remove eligible member from role", "Remove scoped member from role"} {
		out = append(out, Mapping{p + "…", event.ActionRoleRevoke, "audit, by prefix (PIM suffixes); requests are other"})
	}
	for _, pa := range []string{"create", "update", "delete", "disable", "stagedDelete", "enable"} {
		out = append(out, Mapping{"provisioning." + pa, provisioningAction(pa, "User"), "provisioning log, a user; a group: " + provisioningAction(pa, "Group")})
	}
	out = append(out, Mapping{"provisioning.other", event.ActionAppProvision, "provisioning log"},
		Mapping{"signIn, SignInLogs, ServicePrincipalSignInLogs, …", event.ActionUserLogin, "sign-in logs"},
		Mapping{"riskDetection.<riskEventType>", event.ActionOther, "risk detections: the at-risk user is actor and target"},
		Mapping{"<METHOD> <path>", event.ActionOther, "Microsoft Graph activity logs; outcome from the HTTP status"})
	return out
}
