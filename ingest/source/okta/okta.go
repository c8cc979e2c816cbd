// Package okta normalizes Okta System Log events (LogEvent objects, one per
// record or wrapped by an Event Hook) into canonical events.
package okta

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/norm"
)

// Normalizer turns Okta records into canonical events. The zero value is
// ready to use and safe for concurrent use.
type Normalizer struct{}

// record is an Okta LogEvent, or an Event Hook delivery wrapping several.
// Field matching is case-insensitive, as exports lower-case some keys
// ("eventtype", "debugcontext").
type record struct {
	UUID           string `json:"uuid"`
	Published      string `json:"published"`
	EventType      string `json:"eventType"`
	DisplayMessage string `json:"displayMessage"`
	Actor          struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		AlternateID string `json:"alternateId"`
		DisplayName string `json:"displayName"`
	} `json:"actor"`
	Client struct {
		IPAddress string `json:"ipAddress"`
		UserAgent struct {
			RawUserAgent string `json:"rawUserAgent"`
		} `json:"userAgent"`
	} `json:"client"`
	Outcome struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"outcome"`
	Target      []target `json:"target"`
	Transaction struct {
		ID     string `json:"id"`
		Detail struct {
			// RequestAPITokenID is the API token a request authenticated
			// with.
			RequestAPITokenID string `json:"requestApiTokenId"`
		} `json:"detail"`
	} `json:"transaction"`
	DebugContext struct {
		DebugData debugData `json:"debugData"`
	} `json:"debugContext"`

	// Event Hook delivery: {"source": "https://org.okta.com/api/v1/eventHooks/…", "data": {"events": [...]}}
	Source string `json:"source"`
	Data   *struct {
		Events []json.RawMessage `json:"events"`
	} `json:"data"`
}

// debugData is the part of debugContext.debugData scimwatch reads. Exports
// sometimes write debugData as "" or a string; that reads as empty.
type debugData struct {
	PrivilegeGranted norm.FlexString `json:"privilegeGranted"`
	PrivilegeRevoked norm.FlexString `json:"privilegeRevoked"`
}

func (d *debugData) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	type plain debugData
	return json.Unmarshal(b, (*plain)(d))
}

type target struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	AlternateID   string `json:"alternateId"`
	DisplayName   string `json:"displayName"`
	ChangeDetails *struct {
		From map[string]json.RawMessage `json:"from"`
		To   map[string]json.RawMessage `json:"to"`
	} `json:"changeDetails"`
}

// ErrNotOkta is returned for a JSON object that is not an Okta LogEvent.
var ErrNotOkta = errors.New("not an Okta System Log event (no eventType)")

// Normalize appends the canonical events of one Okta record (a LogEvent or
// an Event Hook delivery) to dst. tenant is used when the record names no
// org. Event.Raw aliases raw.
func (Normalizer) Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return dst, fmt.Errorf("okta: %w", norm.DecodeError(err))
	}
	if r.Data != nil && r.Data.Events != nil {
		if org := hookOrg(r.Source); org != "" {
			tenant = org
		}
		for i, ev := range r.Data.Events {
			var inner record
			if err := json.Unmarshal(ev, &inner); err != nil {
				return dst, fmt.Errorf("okta: event hook data.events[%d]: %w", i, norm.DecodeError(err))
			}
			e, err := inner.event(ev, tenant)
			if err != nil {
				return dst, fmt.Errorf("okta: event hook data.events[%d]: %w", i, err)
			}
			dst = append(dst, e)
		}
		return dst, nil
	}
	e, err := r.event(raw, tenant)
	if err != nil {
		return dst, fmt.Errorf("okta: %w", err)
	}
	return append(dst, e), nil
}

// hookOrg returns the Okta org host of an Event Hook's source URL.
func hookOrg(source string) string {
	if source == "" {
		return ""
	}
	u, err := url.Parse(source)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func (r *record) event(raw []byte, tenant string) (event.Event, error) {
	if r.EventType == "" {
		return event.Event{}, ErrNotOkta
	}
	t, err := norm.ParseTime(r.Published)
	if err != nil {
		return event.Event{}, fmt.Errorf("published: %w", err)
	}
	e := event.Event{
		ID:            r.UUID,
		Time:          t,
		Tenant:        tenant,
		Source:        event.SourceOkta,
		RawType:       r.EventType,
		Action:        Action(r.EventType),
		Outcome:       outcome(r.Outcome.Result),
		Reason:        r.Outcome.Reason,
		CorrelationID: r.Transaction.ID,
		Raw:           raw,
		Actor: event.Actor{
			ID:        r.Actor.ID,
			Type:      actorType(r.Actor.Type),
			Name:      r.Actor.DisplayName,
			Email:     norm.Email(r.Actor.AlternateID),
			IP:        norm.NullString(r.Client.IPAddress),
			UserAgent: r.Client.UserAgent.RawUserAgent,
		},
	}
	if e.ID == "" {
		e.ID = norm.HashID(raw)
	}
	if len(r.Target) > 0 {
		e.Targets = make([]event.Target, 0, len(r.Target)+1)
	}
	hasRole := false
	for i := range r.Target {
		tg := &r.Target[i]
		t := event.Target{ID: tg.ID, Type: targetType(tg.Type), Name: tg.DisplayName, Email: norm.Email(tg.AlternateID)}
		if label := strings.TrimSpace(tg.AlternateID); tg.Type == "AppInstance" && label != "" && !strings.EqualFold(label, "unknown") {
			// An app instance's displayName is its kind ("SAML 2.0 IdP",
			// "Salesforce.com"); alternateId is its label in this org.
			t.Name = label
		}
		if label := strings.TrimSpace(tg.AlternateID); tg.Type == "AppUser" && label != "" && !strings.EqualFold(label, "unknown") {
			// An app user is the person's account in the app: its
			// alternateId is the login the app knows ("dana", or an
			// email), which the app's own logs name; the person's name
			// is on the User target.
			t.Name = label
		}
		hasRole = hasRole || t.Type == event.TargetRole
		e.Targets = append(e.Targets, t)
		if tg.ChangeDetails != nil {
			e.Changes = appendChanges(e.Changes, tg.ChangeDetails.From, tg.ChangeDetails.To)
		}
	}
	// A request made with an API token names it: the credential used is a
	// target of the event (of type credential), as the token a
	// system.api_token.* event acts on is.
	if id := strings.TrimSpace(r.Transaction.Detail.RequestAPITokenID); id != "" &&
		!slices.ContainsFunc(e.Targets, func(t event.Target) bool { return t.Type == event.TargetCredential && t.ID == id }) {
		e.Targets = append(e.Targets, event.Target{ID: id, Type: event.TargetCredential})
	}
	// Older records name the admin roles granted to a user or group only
	// in debugData, a comma-separated list; newer ones have the role as a
	// ROLE target, and privilegeGranted may then list every role the user
	// holds: the target alone says what was granted.
	if !hasRole {
		switch e.Action {
		case event.ActionRoleGrant:
			e.Targets = appendRoles(e.Targets, string(r.DebugContext.DebugData.PrivilegeGranted))
		case event.ActionRoleRevoke:
			e.Targets = appendRoles(e.Targets, string(r.DebugContext.DebugData.PrivilegeRevoked))
		}
	}
	// app.user_management covers an app's user and group management; the
	// membership of a user in a group imported from the app says what it
	// did only in its message ("… add user to app group …").
	if e.RawType == "app.user_management" && e.TargetOfType(event.TargetGroup) != nil && e.TargetOfType(event.TargetUser) != nil {
		switch msg := strings.ToLower(r.DisplayMessage); {
		case strings.Contains(msg, "remove") || strings.Contains(msg, "delete"):
			e.Action = event.ActionGroupMemberRemove
		case strings.Contains(msg, "add") || strings.Contains(msg, "insert") || strings.Contains(msg, "import"):
			e.Action = event.ActionGroupMemberAdd
		}
	}
	// A password set by someone else is a reset, not the user's own change.
	if e.Action == event.ActionPasswordChange {
		if u := e.TargetOfType(event.TargetUser); u != nil && u.ID != "" && u.ID != e.Actor.ID {
			e.Action = event.ActionPasswordReset
		}
	}
	return e, nil
}

func appendRoles(ts []event.Target, list string) []event.Target {
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || slices.ContainsFunc(ts, func(t event.Target) bool { return t.Type == event.TargetRole && strings.EqualFold(t.Name, name) }) {
			continue
		}
		ts = append(ts, event.Target{Type: event.TargetRole, Name: name})
	}
	return ts
}

// appendChanges turns Okta's changeDetails {from:{k:v}, to:{k:v}} into one
// change per attribute, in sorted order so output is deterministic.
func appendChanges(cs []event.Change, from, to map[string]json.RawMessage) []event.Change {
	keys := make([]string, 0, len(from)+len(to))
	for k := range to {
		keys = append(keys, k)
	}
	for k := range from {
		if _, ok := to[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		cs = append(cs, event.Change{Field: k, Old: norm.Text(from[k]), New: norm.Text(to[k])})
	}
	return cs
}

func outcome(result string) string {
	switch strings.ToUpper(result) {
	case "SUCCESS", "ALLOW":
		return event.OutcomeSuccess
	case "FAILURE", "DENY":
		return event.OutcomeFailure
	}
	return event.OutcomeUnknown
}
