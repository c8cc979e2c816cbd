// Package entra normalizes Microsoft Entra ID (Azure AD) audit, sign-in and
// provisioning logs, as Graph API objects or Azure Monitor / Event Hubs
// diagnostic records, into canonical events.
package entra

import (
	"errors"
	"fmt"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/norm"
)

// Normalizer turns Entra records into canonical events. The zero value is
// ready to use and safe for concurrent use.
type Normalizer struct{}

// ErrNotEntra is returned for a JSON object that is none of the Entra shapes.
var ErrNotEntra = errors.New("not an Entra ID audit, sign-in or provisioning record")

// Normalize appends the canonical events of one Entra record, or of every
// record of an Event Hubs batch ({"records": [...]}) or Graph list
// ({"value": [...]}), to dst. Event.Raw aliases raw.
func (Normalizer) Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return dst, fmt.Errorf("entra: %w", norm.DecodeError(err))
	}
	items, field := r.Records, "records"
	if items == nil {
		items, field = r.Value, "value"
	}
	if items == nil {
		e, err := r.event(raw, tenant)
		if err != nil {
			return dst, fmt.Errorf("entra: %w", err)
		}
		return append(dst, e), nil
	}
	for i, item := range items {
		var ir record
		if err := json.Unmarshal(item, &ir); err != nil {
			return dst, fmt.Errorf("entra: %s[%d]: %w", field, i, norm.DecodeError(err))
		}
		e, err := ir.event(item, tenant)
		if err != nil {
			return dst, fmt.Errorf("entra: %s[%d]: %w", field, i, err)
		}
		dst = append(dst, e)
	}
	return dst, nil
}

func (r *record) event(raw []byte, tenant string) (event.Event, error) {
	p := &r.object // Graph object, or Azure Monitor's top level
	if r.Properties != nil {
		p = r.Properties
	}
	e := event.Event{
		ID:            p.ID,
		Tenant:        r.tenant(p, tenant),
		Source:        event.SourceEntra,
		CorrelationID: norm.First(p.CorrelationID, r.CorrelationID),
		Raw:           raw,
	}
	var when string
	switch {
	case p.ProvisioningAction != "" || p.JobID != "":
		when = norm.First(p.ActivityDateTime, r.Time)
		r.provisioning(p, &e)
	case strings.Contains(strings.ToLower(r.Category), "signin") ||
		(p.CreatedDateTime != "" && p.ActivityDisplayName == ""):
		when = norm.First(p.CreatedDateTime, r.Time)
		r.signIn(p, &e)
	case p.ActivityDisplayName != "" || (r.Properties != nil && r.OperationName != ""):
		when = norm.First(p.ActivityDateTime, r.Time)
		r.audit(p, &e)
	default:
		return event.Event{}, ErrNotEntra
	}
	t, err := norm.ParseTime(when)
	if err != nil {
		return event.Event{}, fmt.Errorf("time: %w", err)
	}
	e.Time = t
	if e.ID == "" {
		e.ID = norm.HashID(raw)
	}
	return e, nil
}

// tenant prefers the record's own tenant: Azure Monitor's tenantId, the
// provisioning object's tenantId, or the id in resourceId
// "/tenants/<id>/providers/…".
func (r *record) tenant(p *object, def string) string {
	if t := norm.First(r.TenantID, p.TenantID); t != "" {
		return t
	}
	const pre = "/tenants/"
	if i := strings.Index(strings.ToLower(r.ResourceID), pre); i >= 0 {
		rest := r.ResourceID[i+len(pre):]
		if j := strings.IndexByte(rest, '/'); j > 0 {
			return rest[:j]
		}
	}
	return def
}

func (r *record) audit(p *object, e *event.Event) {
	e.RawType = norm.First(p.ActivityDisplayName, p.OperationName, r.OperationName)
	e.Action = auditAction(e.RawType)
	e.Outcome = outcome(norm.First(p.Result, r.Result, string(r.ResultType)))
	e.Reason = p.ResultReason

	ib := &p.InitiatedBy
	switch {
	case ib.User != nil && (ib.User.ID != "" || ib.User.UserPrincipalName != ""):
		e.Actor = event.Actor{
			ID:    ib.User.ID,
			Type:  event.ActorUser,
			Name:  ib.User.DisplayName,
			Email: norm.Email(ib.User.UserPrincipalName),
			IP:    ib.User.IPAddress,
		}
	case ib.App != nil:
		e.Actor = event.Actor{
			ID:   norm.First(ib.App.ServicePrincipalID, ib.App.AppID),
			Type: event.ActorApp,
			Name: norm.First(ib.App.DisplayName, ib.App.ServicePrincipalName),
		}
	default:
		e.Actor.Type = event.ActorSystem
	}
	e.Actor.IP = norm.First(e.Actor.IP, r.CallerIPAddress, p.detail("ipaddr"))
	e.Actor.UserAgent = p.detail("User-Agent")

	var role, group event.Target
	for i := range p.TargetResources {
		tr := &p.TargetResources[i]
		e.Targets = append(e.Targets, event.Target{
			ID:    tr.ID,
			Type:  targetType(tr.Type),
			Name:  tr.DisplayName,
			Email: norm.Email(tr.UserPrincipalName),
		})
		for _, mp := range tr.ModifiedProperties {
			oldV, newV := norm.EncodedText(string(mp.OldValue)), norm.EncodedText(string(mp.NewValue))
			// Classic role and group membership records name the role or
			// group only in modifiedProperties; make it a target.
			switch mp.DisplayName {
			case "Role.DisplayName":
				role.Name = norm.First(newV, oldV)
			case "Role.ObjectID":
				role.ID = norm.First(newV, oldV)
			case "Group.DisplayName":
				group.Name = norm.First(newV, oldV)
			case "Group.ObjectID":
				group.ID = norm.First(newV, oldV)
			case "Included Updated Properties":
				continue
			}
			e.Changes = append(e.Changes, event.Change{Field: mp.DisplayName, Old: oldV, New: newV})
		}
	}
	if role.Name != "" || role.ID != "" {
		role.Type = event.TargetRole
		e.Targets = append(e.Targets, role)
	}
	if group.Name != "" || group.ID != "" {
		group.Type = event.TargetGroup
		e.Targets = append(e.Targets, group)
	}
}

func (r *record) signIn(p *object, e *event.Event) {
	// Graph's signIn has no type; Azure Monitor's category says which log
	// (SignInLogs, ServicePrincipalSignInLogs, …).
	e.RawType = "signIn"
	if r.Properties != nil {
		e.RawType = norm.First(r.Category, r.OperationName, e.RawType)
	}
	e.Action = event.ActionUserLogin
	code := int(p.Status.ErrorCode)
	if code == 0 && r.Properties != nil {
		// Azure Monitor repeats the error code as resultType ("0", 50126).
		var rt norm.FlexInt
		_ = rt.UnmarshalJSON([]byte(r.ResultType))
		code = int(rt)
	}
	e.Outcome = event.OutcomeSuccess
	if code != 0 {
		e.Outcome = event.OutcomeFailure
		e.Reason = norm.First(p.Status.FailureReason, fmt.Sprintf("error code %d", code))
	}
	if p.UserID == "" && p.UserPrincipalName == "" && p.ServicePrincipalID != "" {
		e.Actor = event.Actor{ID: p.ServicePrincipalID, Type: event.ActorApp, Name: norm.First(p.ServicePrincipalName, p.AppDisplayName)}
	} else {
		e.Actor = event.Actor{
			ID:    p.UserID,
			Type:  event.ActorUser,
			Name:  p.UserDisplayName,
			Email: norm.Email(p.UserPrincipalName),
		}
	}
	e.Actor.IP = norm.First(p.IPAddress, r.CallerIPAddress)
	e.Actor.UserAgent = p.UserAgent
	// The target is what was signed in to: the application for a user, the
	// resource (Azure Storage, Graph) for a service principal.
	t := event.Target{ID: p.AppID, Type: event.TargetApp, Name: p.AppDisplayName}
	if e.Actor.Type == event.ActorApp {
		resID := p.ResourceID
		if p == &r.object { // unwrapped Graph signIn: the top level's resourceId
			resID = r.ResourceID
		}
		t = event.Target{ID: resID, Type: event.TargetApp, Name: p.ResourceDisplayName}
	}
	if t.ID != "" || t.Name != "" {
		e.Targets = []event.Target{t}
	}
}

func (r *record) provisioning(p *object, e *event.Event) {
	act := norm.First(p.ProvisioningAction, p.Action)
	e.RawType = "provisioning." + act
	idType := norm.First(p.TargetIdentity.IdentityType, p.SourceIdentity.IdentityType)
	e.Action = provisioningAction(act, idType)
	e.Outcome = outcome(p.ProvisioningStatusInfo.Status)
	e.Reason = p.ProvisioningStatusInfo.ErrorInformation.Reason

	ib := &p.InitiatedBy
	e.Actor = event.Actor{ID: ib.ID, Name: ib.DisplayName, Type: event.ActorSystem}
	switch strings.ToLower(ib.InitiatorType) {
	case "user":
		e.Actor.Type = event.ActorUser
	case "application":
		e.Actor.Type = event.ActorApp
	}

	tt := event.TargetUser
	if strings.EqualFold(idType, "group") {
		tt = event.TargetGroup
	}
	if ti := p.TargetIdentity; ti.ID != "" || ti.DisplayName != "" {
		e.Targets = append(e.Targets, event.Target{ID: ti.ID, Type: tt, Name: ti.DisplayName, Email: norm.Email(ti.DisplayName)})
	}
	if sp := p.ServicePrincipal; sp != nil {
		e.Targets = append(e.Targets, event.Target{ID: sp.ID, Type: event.TargetApp, Name: sp.DisplayName})
	}
	for _, mp := range p.ModifiedProperties {
		e.Changes = append(e.Changes, event.Change{
			Field: mp.DisplayName,
			Old:   norm.EncodedText(string(mp.OldValue)),
			New:   norm.EncodedText(string(mp.NewValue)),
		})
	}
}

// detail returns an additionalDetails value by key, case-insensitively.
func (p *object) detail(key string) string {
	for _, kv := range p.AdditionalDetails {
		if strings.EqualFold(kv.Key, key) {
			return string(kv.Value)
		}
	}
	return ""
}

func outcome(s string) string {
	switch strings.ToLower(s) {
	case "success", "0":
		return event.OutcomeSuccess
	case "failure", "failed", "timeout":
		return event.OutcomeFailure
	}
	return event.OutcomeUnknown
}
