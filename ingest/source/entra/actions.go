package entra

import (
	"strings"

	"github.com/scimwatch/scimwatch/event"
)

// auditActions maps directoryAudit activity names to canonical actions.
// Role activities are matched by prefix in auditAction, since PIM adds
// suffixes such as "in PIM completed (permanent)".
var auditActions = map[string]string{
	"Add user":                              event.ActionUserCreate,
	"Invite external user":                  event.ActionUserCreate,
	"Update user":                           event.ActionUserUpdate,
	"Disable account":                       event.ActionUserDeactivate,
	"Enable account":                        event.ActionUserActivate,
	"Delete user":                           event.ActionUserDelete,
	"Hard delete user":                      event.ActionUserDelete,
	"Restore user":                          event.ActionUserReactivate,
	"Reset user password":                   event.ActionPasswordReset,
	"Reset password (by admin)":             event.ActionPasswordReset,
	"Change user password":                  event.ActionPasswordReset,
	"Admin deleted security info":           event.ActionMFAReset,
	"Admin registered security info":        event.ActionMFAReset,
	"Reset strong authentication":           event.ActionMFAReset,
	"Add group":                             event.ActionGroupCreate,
	"Update group":                          event.ActionGroupUpdate,
	"Delete group":                          event.ActionGroupDelete,
	"Hard Delete group":                     event.ActionGroupDelete,
	"Add member to group":                   event.ActionGroupMemberAdd,
	"Add owner to group":                    event.ActionGroupMemberAdd,
	"Remove member from group":              event.ActionGroupMemberRemove,
	"Remove owner from group":               event.ActionGroupMemberRemove,
	"Add app role assignment to user":       event.ActionAppAssign,
	"Add app role assignment to group":      event.ActionAppAssign,
	"Remove app role assignment from user":  event.ActionAppUnassign,
	"Remove app role assignment from group": event.ActionAppUnassign,
	"Add service principal credentials":     event.ActionCredentialCreate,
	"Remove service principal credentials":  event.ActionCredentialRevoke,
	"Add owner to service principal":        event.ActionRoleGrant,
	"Delete role assignment":                event.ActionRoleRevoke,
	"Remove role assignment":                event.ActionRoleRevoke,
	"Create role assignment":                event.ActionRoleGrant,
	"User has elevated their access to User Access Administrator for their Azure Resources": event.ActionRoleGrant,
}

// auditAction returns the canonical action of a directoryAudit activity.
//
// Every "Add member to role…" and "Add eligible member to role…" activity
// is a role.grant (classic, PIM completed, PIM activation, outside PIM), and
// "Remove … from role…" a role.revoke, except PIM *requests*: a request is
// followed by its own "completed" record, so counting both would double
// every grant. Requests map to other.
func auditAction(activity string) string {
	if a, ok := auditActions[activity]; ok {
		return a
	}
	lower := strings.ToLower(activity)
	if strings.Contains(lower, "requested") {
		return event.ActionOther
	}
	switch {
	case strings.HasPrefix(lower, "add member to role"),
		strings.HasPrefix(lower, "add eligible member to role"),
		strings.HasPrefix(lower, "add scoped member to role"):
		return event.ActionRoleGrant
	case strings.HasPrefix(lower, "remove member from role"),
		strings.HasPrefix(lower, "remove eligible member from role"),
		strings.HasPrefix(lower, "remove scoped member from role"):
		return event.ActionRoleRevoke
	}
	return event.ActionOther
}

// provisioningAction maps a provisioningObjectSummary's provisioningAction
// (create, update, delete, disable, stagedDelete, other) and the type of
// the identity it acted on to a canonical action.
func provisioningAction(action, identityType string) string {
	group := strings.EqualFold(identityType, "group")
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
