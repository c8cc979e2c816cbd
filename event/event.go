// Package event defines scimwatch's canonical identity-provisioning audit
// event: the one vocabulary that normalizers produce and that ClickHouse,
// rules, baselines, alerts and dashboards consume.
//
// The JSON form (one object per NDJSON line) is a contract: field names and
// the action vocabulary are relied upon by rules, ClickHouse columns and
// other tools, and change only by addition.
package event

import (
	"encoding/json"
	"time"
)

// Event is one canonical audit event.
type Event struct {
	// ID is the source's unique id (Okta uuid, Entra id). When the source has
	// none it is a stable hash of the raw record (see HashID).
	ID string `json:"id" expr:"id"`
	// Time is when it happened, in UTC. Its JSON form is RFC 3339 with
	// milliseconds.
	Time time.Time `json:"time" expr:"time"`
	// Tenant is the organisation: Okta org, Entra tenantId, SCIM server tenant,
	// or the input's configured default.
	Tenant string `json:"tenant" expr:"tenant"`
	// Source is one of the Source* constants.
	Source string `json:"source" expr:"source"`
	// RawType is the source's own event type, verbatim.
	RawType string `json:"raw_type" expr:"raw_type"`
	// Action is one of the Action* constants; "other" when the source type
	// is not (yet) mapped. A failed attempt keeps its action.
	Action string `json:"action" expr:"action"`
	// Outcome is success, failure or unknown; Reason is the source's text.
	Outcome string `json:"outcome" expr:"outcome"`
	Reason  string `json:"reason" expr:"reason"`

	Actor   Actor    `json:"actor" expr:"actor"`
	Targets []Target `json:"targets" expr:"targets"`
	Changes []Change `json:"changes" expr:"changes"`

	// CorrelationID ties events of one operation together (Okta
	// transaction.id, Entra correlationId, SCIM request id).
	CorrelationID string `json:"correlation_id" expr:"correlation_id"`

	// Trimmed says what scimwatch left out of, or replaced in, a record
	// too large or too strange to keep whole (see source.Limits). It is
	// zero for almost every event, and then absent from the JSON form.
	Trimmed Trimmed `json:"trimmed" expr:"trimmed"`

	// Raw is the original record, unchanged. A normalizer's Raw aliases the
	// input it was given: copy it if the input buffer is reused.
	Raw json.RawMessage `json:"raw" expr:"raw"`
}

// Actor is who did it.
type Actor struct {
	ID        string `json:"id" expr:"id"`
	Type      string `json:"type" expr:"type"` // user | app | system
	Name      string `json:"name" expr:"name"`
	Email     string `json:"email" expr:"email"`
	IP        string `json:"ip" expr:"ip"`
	UserAgent string `json:"user_agent" expr:"user_agent"`
}

// Target is what it was done to.
type Target struct {
	ID    string `json:"id" expr:"id"`
	Type  string `json:"type" expr:"type"` // user | app_user | group | app | role | credential | other
	Name  string `json:"name" expr:"name"`
	Email string `json:"email" expr:"email"`
}

// Trimmed counts what was cut from an event at normalization, so that a
// cut is never silent: the event is stored and evaluated with what was
// kept, and says what was not.
type Trimmed struct {
	// Targets and Changes left out past the bounds.
	Targets int `json:"targets,omitempty" expr:"targets"`
	Changes int `json:"changes,omitempty" expr:"changes"`
	// Strings shortened to their bound.
	Strings int `json:"strings,omitempty" expr:"strings"`
	// Unread counts the fields of the record the normalizer could not
	// read (a value of a type it does not know for that field): the event
	// is what could be read, and says that something could not.
	Unread int `json:"unread,omitempty" expr:"unread"`
	// Time is the record's own time (RFC 3339) when it was outside the
	// sane range; the event's Time is then when the record was received.
	Time string `json:"time,omitempty" expr:"time"`
}

// Any reports whether anything was cut or replaced.
func (t Trimmed) Any() bool { return t != Trimmed{} }

// Change is one attribute that changed. Old and New are text: JSON-encoded
// values that sources wrap in strings are decoded first (see the README).
type Change struct {
	Field string `json:"field" expr:"field"`
	Old   string `json:"old" expr:"old"`
	New   string `json:"new" expr:"new"`
}

// Sources.
const (
	SourceOkta  = "okta"
	SourceEntra = "entra"
	SourceSCIM  = "scim"
	// SourceGWorkspace is Google Workspace (the Admin SDK Reports API).
	SourceGWorkspace = "gworkspace"
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeUnknown = "unknown"
)

// Actor types.
const (
	ActorUser   = "user"
	ActorApp    = "app"
	ActorSystem = "system"
)

// Target types.
const (
	TargetUser = "user"
	// TargetAppUser is a person's account in an app, by the app-side id and
	// login (Okta's AppUser): what the app's own SCIM log and sign-ins
	// name. The person is the event's user target.
	TargetAppUser    = "app_user"
	TargetGroup      = "group"
	TargetApp        = "app"
	TargetRole       = "role"
	TargetCredential = "credential"
	TargetOther      = "other"
)

// TargetOfType returns the first target of type typ, or nil.
func (e *Event) TargetOfType(typ string) *Target {
	for i := range e.Targets {
		if e.Targets[i].Type == typ {
			return &e.Targets[i]
		}
	}
	return nil
}
