// Package entra normalizes Microsoft Entra ID (Azure AD) audit, sign-in and
// provisioning logs, as Graph API objects or Azure Monitor / Event Hubs
// diagnostic records, into canonical events.
package entra

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
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
	x := r.extra(p, raw)
	if x == nil {
		// A risk or Graph activity field of a form scimwatch does not
		// read: the event is what could be read, marked.
		x = &noExtra
		e.Trimmed.Unread++
	}
	var when string
	switch {
	case x.RiskLastUpdatedDateTime != "" && x.RiskEventType == "":
		when = norm.First(x.RiskLastUpdatedDateTime, r.Time)
		r.riskyUser(p, x, &e)
	case x.RiskEventType != "":
		when = norm.First(p.ActivityDateTime, x.DetectedDateTime, r.Time)
		r.risk(p, x, &e)
	case x.RequestMethod != "" && x.RequestURI != "":
		when = norm.First(x.TimeGenerated, r.Time, p.CreatedDateTime)
		r.graphActivity(p, x, &e)
	case p.ProvisioningAction != "" || p.JobID != "":
		when = norm.First(p.ActivityDateTime, r.Time)
		r.provisioning(p, raw, &e)
	case containsFold(r.Category, "signin") ||
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

// noExtra is the extra of records that are neither (read only).
var noExtra extra

// extra decodes the fields of risk detections and Graph activity when the
// record's category names one, or when it is none of the other kinds.
func (r *record) extra(p *object, raw []byte) *extra {
	switch c := r.Category; {
	case strings.EqualFold(c, "UserRiskEvents"), strings.EqualFold(c, "ServicePrincipalRiskEvents"), strings.EqualFold(c, "MicrosoftGraphActivityLogs"),
		strings.EqualFold(c, "RiskyUsers"), strings.EqualFold(c, "RiskyServicePrincipals"):
	default:
		if p.ProvisioningAction != "" || p.JobID != "" || p.CreatedDateTime != "" || p.ActivityDisplayName != "" ||
			r.Properties != nil && r.OperationName != "" {
			return &noExtra
		}
	}
	var xr extraRecord
	if json.Unmarshal(raw, &xr) != nil {
		return nil
	}
	if r.Properties != nil {
		if xr.Properties == nil {
			return &noExtra
		}
		return xr.Properties
	}
	return &xr.extra
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
	e.Actor.IP = ip(e.Actor.IP, r.CallerIPAddress, p.detail("ipaddr"))
	e.Actor.UserAgent = p.detail("User-Agent")

	// Classic role and group membership records, and app permission
	// grants, name the role, group, permission or grantee only in
	// modifiedProperties: they become targets.
	var role, group, appRole, grantee event.Target
	var scopes string
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
			v := norm.First(newV, oldV)
			field := strings.TrimSpace(mp.DisplayName)
			switch field {
			case "Role.DisplayName":
				role.Name = v
			case "Role.ObjectID":
				role.ID = v
			case "Group.DisplayName":
				group.Name = v
			case "Group.ObjectID":
				group.ID = v
			case "AppRole.Value":
				appRole.Name = norm.First(v, appRole.Name)
			case "AppRole.DisplayName":
				appRole.Name = norm.First(appRole.Name, v)
			case "AppRole.Id":
				appRole.ID = v
			case "ServicePrincipal.ObjectID":
				grantee.ID = v
			case "ServicePrincipal.DisplayName":
				grantee.Name = v
			case "DelegatedPermissionGrant.Scope":
				scopes = v
			case "ConsentAction.Permissions":
				scopes = consentScopes(v)
			case "Included Updated Properties":
				continue
			case "":
				// A change Entra did not name: keep its values, if any.
				if oldV == "" && newV == "" {
					continue
				}
				field = "(unnamed)"
			}
			e.Changes = append(e.Changes, event.Change{Field: field, Old: oldV, New: newV})
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
	// A permission granted to an app (or to a user or group with its app
	// assignment) is a role target; so is each delegated scope. The app
	// that got it is an app target, unless it already is one.
	if appRole.Name != "" || appRole.ID != "" {
		appRole.Type = event.TargetRole
		e.Targets = append(e.Targets, appRole)
	}
	for _, sc := range strings.Fields(scopes) {
		e.Targets = append(e.Targets, event.Target{Type: event.TargetRole, Name: sc})
	}
	if grantee.ID != "" || grantee.Name != "" {
		grantee.Type = event.TargetApp
		i := slices.IndexFunc(e.Targets, func(t event.Target) bool { return t.Type == event.TargetApp && t.ID == grantee.ID && t.ID != "" })
		switch {
		case i < 0:
			e.Targets = append(e.Targets, grantee)
		case e.Targets[i].Name == "":
			e.Targets[i].Name = grantee.Name
		}
	}
	if e.Action == event.ActionCredentialCreate {
		e.Action = credentialAction(e.Changes)
		e.Targets = append(e.Targets, credentialTargets(e.Changes, e.Action == event.ActionCredentialRevoke)...)
	}
}

// keyIdentifier finds the keys of a KeyDescription list:
// "[KeyIdentifier=<id>, KeyType=Password, KeyUsage=Verify, DisplayName=ci]".
var keyIdentifier = regexp.MustCompile(`KeyIdentifier=([^,\]\s"]+)(?:[^\]]*?DisplayName=([^,\]"]*))?`)

// credentialTargets returns the keys a credential change added (or, when
// revoked, removed): those in one of KeyDescription's lists and not the
// other, as credential targets named by their display name.
func credentialTargets(changes []event.Change, revoked bool) []event.Target {
	var out []event.Target
	for _, c := range changes {
		if c.Field != "KeyDescription" {
			continue
		}
		from, to := c.Old, c.New
		if revoked {
			from, to = c.New, c.Old
		}
		// The keys before, as a set: a record listing thousands of keys
		// costs one pass over each list, not one scan of the other list
		// per key.
		before := map[string]bool{}
		for _, m := range keyIdentifier.FindAllStringSubmatch(from, -1) {
			before[m[1]] = true
		}
		for _, m := range keyIdentifier.FindAllStringSubmatch(to, -1) {
			if !before[m[1]] {
				before[m[1]] = true // listed twice, one target
				out = append(out, event.Target{ID: m[1], Type: event.TargetCredential, Name: strings.TrimSpace(m[2])})
			}
		}
	}
	return out
}

// credentialAction tells whether "Certificates and secrets management"
// added or removed a credential: by the keys listed before and after
// (KeyDescription, or a FederatedIdentityCredentials list).
func credentialAction(changes []event.Change) string {
	for _, c := range changes {
		if c.Field != "KeyDescription" && c.Field != "FederatedIdentityCredentials" {
			continue
		}
		if strings.Count(c.New, "KeyIdentifier=")+strings.Count(c.New, `"Name"`) < strings.Count(c.Old, "KeyIdentifier=")+strings.Count(c.Old, `"Name"`) {
			return event.ActionCredentialRevoke
		}
	}
	return event.ActionCredentialCreate
}

// consentScopes reads the scopes of a "Consent to application" record's
// ConsentAction.Permissions: "[] => [[Id: …, ConsentType: AllPrincipals,
// Scope:  Mail.Read User.Read, CreatedDateTime: …]]".
func consentScopes(v string) string {
	var out []string
	for rest := v; ; {
		i := strings.Index(rest, "Scope:")
		if i < 0 {
			break
		}
		rest = rest[i+len("Scope:"):]
		end := strings.IndexAny(rest, ",]")
		if end < 0 {
			end = len(rest)
		}
		out = append(out, strings.Fields(rest[:end])...)
		rest = rest[end:]
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), " ")
}

// ip returns the first address that is one: Entra writes "<null>" for none.
func ip(ss ...string) string {
	for _, s := range ss {
		if s = norm.NullString(strings.TrimSpace(s)); s != "" {
			return s
		}
	}
	return ""
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
	e.Actor.IP = ip(p.IPAddress, r.CallerIPAddress)
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
	// The key a service principal signed in with: the credential used.
	if k := strings.TrimSpace(p.ServicePrincipalCredentialKeyID); k != "" && e.Actor.Type == event.ActorApp {
		e.Targets = append(e.Targets, event.Target{ID: k, Type: event.TargetCredential})
	}
}

func (r *record) provisioning(p *object, raw []byte, e *event.Event) {
	var px provExtra
	var xr provExtraRecord
	if err := json.Unmarshal(raw, &xr); err == nil {
		px = xr.provExtra
		if r.Properties != nil && xr.Properties != nil {
			px = *xr.Properties
		}
	} else {
		// The initiator's name, the identities' details and the steps
		// are in a form scimwatch does not read: say so on the event.
		e.Trimmed.Unread++
	}
	act := norm.First(p.ProvisioningAction, p.Action)
	e.RawType = "provisioning." + act
	status := stepStatus(string(p.ProvisioningStatusInfo.Status))
	e.Outcome = outcome(status)
	e.Reason = p.ProvisioningStatusInfo.ErrorInformation.Reason
	if status == "skipped" {
		// Nothing was written to the app: the step that skipped says why.
		e.Outcome = event.OutcomeUnknown
		e.Reason = norm.First(e.Reason, skipReason(px.ProvisioningSteps))
	}

	ib := &p.InitiatedBy
	e.Actor = event.Actor{ID: ib.ID, Name: norm.First(ib.DisplayName, px.InitiatedBy.Name), Type: event.ActorSystem}
	switch strings.ToLower(norm.First(ib.InitiatorType, px.InitiatedBy.Type)) {
	case "user":
		e.Actor.Type = event.ActorUser
		e.Actor.Email = norm.Email(e.Actor.Name)
	case "application":
		e.Actor.Type = event.ActorApp
	}

	src, tgt := &p.SourceIdentity, &p.TargetIdentity
	sx, tx := &px.SourceIdentity, &px.TargetIdentity
	if r.inbound(p, &px) {
		r.inboundProvisioning(p, &px, act, e)
		return
	}
	idType := norm.First(tgt.IdentityType, src.IdentityType)
	e.Action = provisioningAction(act, idType)

	// Outbound (the directory to an app): the user (or group) is the
	// identity provider's, the source identity, by its directory id and
	// name. The app's own id for it (the target identity) is kept when it
	// differs, as an app_user target for a user (an other one for a
	// group): a skipped create has none, a created user may be named only
	// by it.
	tt := event.TargetUser
	if isGroup(idType) {
		tt = event.TargetGroup
	}
	srcName, tgtName := norm.First(src.DisplayName, sx.Name), norm.First(tgt.DisplayName, tx.Name)
	who := event.Target{ID: norm.First(src.ID, tgt.ID), Type: tt, Name: norm.First(srcName, tgtName)}
	if who.Name == "" {
		who.Name = norm.First(detail(sx.Details, "userPrincipalName"), detail(sx.Details, "mail"), detail(tx.Details, "userName"))
	}
	who.Email = norm.Email(norm.First(detail(sx.Details, "userPrincipalName"), detail(sx.Details, "mail"), who.Name, tgtName, detail(tx.Details, "userName")))
	if who.ID != "" || who.Name != "" {
		e.Targets = append(e.Targets, who)
	}
	if tgt.ID != "" && tgt.ID != who.ID {
		// The app's own id for a user is the person's account in the app.
		typ := event.TargetOther
		if tt == event.TargetUser {
			typ = event.TargetAppUser
		}
		e.Targets = append(e.Targets, event.Target{ID: tgt.ID, Type: typ, Name: tgtName, Email: norm.Email(norm.First(detail(tx.Details, "userName"), tgtName))})
	}
	var spID, tsID string
	if p.ServicePrincipal != nil {
		spID = p.ServicePrincipal.ID
	}
	if p.TargetSystem != nil {
		tsID = p.TargetSystem.ID
	}
	spName := px.ServicePrincipal.Name
	if p.ServicePrincipal != nil {
		spName = norm.First(p.ServicePrincipal.DisplayName, spName)
	}
	tsName := px.TargetSystem.Name
	if p.TargetSystem != nil {
		tsName = norm.First(p.TargetSystem.DisplayName, tsName)
	}
	if spID != "" || spName != "" {
		e.Targets = append(e.Targets, event.Target{ID: spID, Type: event.TargetApp, Name: spName})
	} else if tsID != "" || tsName != "" {
		e.Targets = append(e.Targets, event.Target{ID: tsID, Type: event.TargetApp, Name: tsName})
	}
	e.Changes = provisioningChanges(e.Changes, p.ModifiedProperties)
}

// inbound reports whether a provisioning event is of an inbound job: an HR
// system (Workday, SuccessFactors, an API-driven source) provisioning into
// the directory, Entra ID or on-premises Active Directory. Its source
// identity is the HR worker and its target identity the directory's user,
// the other way round from a job that provisions the directory's users
// into an app. The job says which: its target system is the directory, its
// source identity a worker, or its id names the direction ("Workday2AAD",
// "API2AD").
func (r *record) inbound(p *object, px *provExtra) bool {
	if strings.EqualFold(strings.TrimSpace(p.SourceIdentity.IdentityType), "worker") {
		return true
	}
	ts := px.TargetSystem.Name
	if p.TargetSystem != nil {
		ts = norm.First(p.TargetSystem.DisplayName, ts)
	}
	if isDirectory(ts) {
		return true
	}
	job := strings.ToLower(p.JobID)
	if i := strings.IndexByte(job, '.'); i >= 0 {
		job = job[:i]
	}
	return strings.HasSuffix(job, "2aad") || strings.HasSuffix(job, "2ad") || strings.HasSuffix(job, "2entra")
}

// isDirectory reports whether a provisioning system's name is the
// directory itself.
func isDirectory(name string) bool {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "azure active directory", "microsoft entra id", "entra id", "azure ad", "aad", "active directory", "on-premises active directory":
		return true
	}
	return false
}

// inboundProvisioning maps an inbound job's event: the account is the
// directory's user (the target identity), created, updated, disabled or
// deleted by the identity provider itself, as an admin would; the HR
// worker it was made from is kept as an other target (its id, "WD12345",
// and name), and the HR system is named in the raw record. No app target:
// the directory is not an app the user was given.
func (r *record) inboundProvisioning(p *object, px *provExtra, act string, e *event.Event) {
	src, tgt := &p.SourceIdentity, &p.TargetIdentity
	sx, tx := &px.SourceIdentity, &px.TargetIdentity
	idType := tgt.IdentityType
	if idType == "" || strings.EqualFold(idType, "worker") {
		idType = "User"
	}
	e.Action = provisioningAction(act, idType)
	tgtName := norm.First(tgt.DisplayName, tx.Name)
	upn := norm.First(detail(tx.Details, "userPrincipalName"), detail(tx.Details, "mail"))
	tt := event.TargetUser
	if isGroup(idType) {
		tt = event.TargetGroup
	}
	who := event.Target{ID: tgt.ID, Type: tt, Name: norm.First(tgtName, upn), Email: norm.Email(norm.First(upn, tgtName))}
	if who.ID != "" || who.Name != "" {
		e.Targets = append(e.Targets, who)
	}
	if src.ID != "" {
		e.Targets = append(e.Targets, event.Target{ID: src.ID, Type: event.TargetOther, Name: norm.First(src.DisplayName, sx.Name)})
	}
	e.Changes = provisioningChanges(e.Changes, p.ModifiedProperties)
}

// provisioningChanges appends a provisioning event's modified properties.
func provisioningChanges(cs []event.Change, mps []modifiedProperty) []event.Change {
	for _, mp := range mps {
		if mp.DisplayName == "" && mp.OldValue == "" && mp.NewValue == "" {
			continue
		}
		cs = append(cs, event.Change{
			Field: norm.First(strings.TrimSpace(mp.DisplayName), "(unnamed)"),
			Old:   norm.EncodedText(string(mp.OldValue)),
			New:   norm.EncodedText(string(mp.NewValue)),
		})
	}
	return cs
}

// stepStatus returns a provisioning status by name. Azure Monitor writes
// Graph's provisioningResult enum by its number: 0 success, 1 failure,
// 2 skipped, 3 warning.
func stepStatus(s string) string {
	switch strings.TrimSpace(s) {
	case "0":
		return "success"
	case "1":
		return "failure"
	case "2":
		return "skipped"
	case "3":
		return "warning"
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// skipReason is why a skipped provisioning event was skipped: the skipped
// step's description and its SkipReason detail.
func skipReason(steps []provisioningStep) string {
	for _, st := range steps {
		if stepStatus(string(st.Status)) != "skipped" {
			continue
		}
		code := string(st.Details["SkipReason"])
		switch {
		case st.Description != "" && code != "":
			return code + ": " + st.Description
		case st.Description != "" || code != "":
			return norm.First(code, st.Description)
		}
	}
	return ""
}

// detail returns a provisioned identity's detail by key,
// case-insensitively.
func detail(m map[string]norm.FlexString, key string) string {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return string(v)
		}
	}
	return ""
}

// risk maps an Identity Protection risk detection (Graph riskDetection,
// Azure Monitor UserRiskEvents): the at-risk user is the actor (the risky
// sign-in or activity was made as them, from the address given) and the
// target; the detection's type is the raw type.
func (r *record) risk(p *object, x *extra, e *event.Event) {
	e.RawType = "riskDetection." + x.RiskEventType
	e.Action = event.ActionOther
	e.Outcome = event.OutcomeUnknown
	var reason []string
	for _, s := range []string{x.RiskLevel, x.RiskState, x.RiskDetail} {
		if s != "" && s != "none" {
			reason = append(reason, s)
		}
	}
	e.Reason = strings.Join(reason, ", ")
	e.Actor = event.Actor{ID: p.UserID, Type: event.ActorUser, Name: p.UserDisplayName, Email: norm.Email(p.UserPrincipalName),
		IP: ip(p.IPAddress, r.CallerIPAddress)}
	e.Targets = []event.Target{{ID: p.UserID, Type: event.TargetUser, Name: p.UserDisplayName, Email: norm.Email(p.UserPrincipalName)}}
}

// riskyUser maps a user's risk state (Graph riskyUser, Azure Monitor
// RiskyUsers): Identity Protection's verdict on the user, as of its last
// update. The user is the target; the state is the raw type's suffix
// (atRisk, confirmedCompromised, remediated, dismissed). The record's id is
// the user's, the same in every update: the event's is the record's hash.
func (r *record) riskyUser(p *object, x *extra, e *event.Event) {
	e.ID = ""
	e.RawType = "riskyUser." + norm.First(x.RiskState, "unknown")
	e.Action = event.ActionOther
	e.Outcome = event.OutcomeUnknown
	var reason []string
	for _, s := range []string{x.RiskLevel, x.RiskDetail} {
		if s != "" && s != "none" {
			reason = append(reason, s)
		}
	}
	e.Reason = strings.Join(reason, ", ")
	e.Actor = event.Actor{Type: event.ActorSystem, Name: "Microsoft Entra ID Protection"}
	e.Targets = []event.Target{{ID: p.ID, Type: event.TargetUser, Name: p.UserDisplayName, Email: norm.Email(p.UserPrincipalName)}}
}

// graphActivity maps a Microsoft Graph activity log record: one HTTP
// request to Graph, by a user through an app or by an app alone. The
// outcome is the HTTP status's; the raw type is the method and the path.
func (r *record) graphActivity(p *object, x *extra, e *event.Event) {
	path := x.RequestURI
	if i := strings.Index(path, "://"); i >= 0 {
		path = path[i+3:]
		if j := strings.IndexByte(path, '/'); j >= 0 {
			path = path[j:]
		} else {
			path = "/"
		}
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	e.RawType = strings.ToUpper(x.RequestMethod) + " " + path
	e.Action = event.ActionOther
	switch code := int(x.ResponseStatusCode); {
	case code >= 200 && code < 400:
		e.Outcome = event.OutcomeSuccess
	case code >= 400:
		e.Outcome, e.Reason = event.OutcomeFailure, fmt.Sprintf("HTTP %d", code)
	default:
		e.Outcome = event.OutcomeUnknown
	}
	app := event.Target{ID: norm.First(p.AppID, p.ServicePrincipalID), Type: event.TargetApp}
	if p.UserID != "" {
		e.Actor = event.Actor{ID: p.UserID, Type: event.ActorUser}
		if app.ID != "" {
			e.Targets = append(e.Targets, app) // the app the user called through
		}
	} else {
		e.Actor = event.Actor{ID: norm.First(p.ServicePrincipalID, p.AppID), Type: event.ActorApp}
	}
	e.Actor.IP = ip(p.IPAddress, r.CallerIPAddress)
	e.Actor.UserAgent = p.UserAgent
	e.Targets = append(e.Targets, event.Target{Type: event.TargetOther, Name: x.RequestURI})
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
