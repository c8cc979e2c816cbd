// Package gworkspace normalizes Google Workspace audit records, the
// activities of the Admin SDK Reports API (applications admin, login,
// token, groups and groups_enterprise), into canonical events.
package gworkspace

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/norm"
)

// Normalizer turns Google Workspace activity records into canonical
// events. The zero value is ready to use and safe for concurrent use.
type Normalizer struct{}

// ErrNotWorkspace is returned for a JSON object that is not a Reports API
// activity.
var ErrNotWorkspace = errors.New("not a Google Workspace activity (no id.applicationName, no protoPayload.serviceName)")

// activity is one Reports API activity in either shape it is delivered
// in: the API's own, {"id": {...}, "actor": {...}, "events": [{"type",
// "name", "parameters": [{"name", "value"|"multiValue"|"intValue"|
// "boolValue"}]}]}, or flattened one event per record by log pipelines,
// {"id": {...}, "actor": {...}, "type", "name", "parameters": {NAME: value}}.
// A list response {"items": [...]} holds several.
type activity struct {
	ID struct {
		Time            string          `json:"time"`
		UniqueQualifier norm.FlexString `json:"uniqueQualifier"`
		ApplicationName string          `json:"applicationName"`
		CustomerID      string          `json:"customerId"`
	} `json:"id"`
	Actor struct {
		CallerType string `json:"callerType"`
		Email      string `json:"email"`
		ProfileID  string `json:"profileId"`
		Key        string `json:"key"`
		// An app acting for a user (domain-wide delegation).
		ApplicationInfo *struct {
			OAuthClientID   string `json:"oauthClientId"`
			ApplicationName string `json:"applicationName"`
			Impersonation   bool   `json:"impersonation"`
		} `json:"applicationInfo"`
	} `json:"actor"`
	IPAddress   string          `json:"ipAddress"`
	OwnerDomain string          `json:"ownerDomain"`
	Events      eventList       `json:"events"`
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Parameters  json.RawMessage `json:"parameters"`

	Items []json.RawMessage `json:"items"`

	// Google Cloud Logging's export of Workspace audit logs: a LogEntry
	// whose protoPayload is an AuditLog with the activity in metadata.
	ProtoPayload *protoPayload `json:"protoPayload"`
	Timestamp    string        `json:"timestamp"`
	LogName      string        `json:"logName"`
}

type eventEntry struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Parameters json.RawMessage `json:"parameters"`
}

// eventList is an activity's events: a list as the API sends them, or one
// object, as shippers that split an activity into one record per event
// write it (Elastic Agent's Workspace integration).
type eventList []eventEntry

// UnmarshalJSON implements json.Unmarshaler.
func (l *eventList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one eventEntry
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = eventList{one}
		return nil
	}
	return json.Unmarshal(b, (*[]eventEntry)(l))
}

// protoPayload is the AuditLog of a Workspace audit log entry in Cloud
// Logging: the service (admin.googleapis.com, login.googleapis.com), who
// and from where, and in metadata the Reports API activity in Cloud
// Logging's own names (eventName, eventType, parameter, multiStrValue).
type protoPayload struct {
	ServiceName        string `json:"serviceName"`
	AuthenticationInfo struct {
		PrincipalEmail string `json:"principalEmail"`
	} `json:"authenticationInfo"`
	RequestMetadata struct {
		CallerIP string `json:"callerIp"`
	} `json:"requestMetadata"`
	Metadata struct {
		ActivityID struct {
			TimeUsec      norm.FlexString `json:"timeUsec"`
			UniqQualifier norm.FlexString `json:"uniqQualifier"`
		} `json:"activityId"`
		Event []struct {
			EventType string          `json:"eventType"`
			EventName string          `json:"eventName"`
			Parameter json.RawMessage `json:"parameter"`
		} `json:"event"`
	} `json:"metadata"`
}

// fromCloudLogging fills in the activity from a Cloud Logging entry.
func (a *activity) fromCloudLogging(tenant string) {
	pp := a.ProtoPayload
	app, _, _ := strings.Cut(pp.ServiceName, ".")
	a.ID.ApplicationName = app
	a.ID.Time = a.Timestamp
	a.ID.UniqueQualifier = pp.Metadata.ActivityID.UniqQualifier
	if us, err := strconv.ParseInt(string(pp.Metadata.ActivityID.TimeUsec), 10, 64); err == nil && us > 0 {
		a.ID.Time = time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
	}
	// The organization's number (logName organizations/123/logs/…): the
	// customer id is not in the entry.
	if tenant == "" {
		if rest, ok := strings.CutPrefix(a.LogName, "organizations/"); ok {
			a.ID.CustomerID, _, _ = strings.Cut(rest, "/")
		}
	}
	a.Actor.Email = pp.AuthenticationInfo.PrincipalEmail
	a.IPAddress = pp.RequestMetadata.CallerIP
	a.Events = a.Events[:0]
	for _, ev := range pp.Metadata.Event {
		a.Events = append(a.Events, eventEntry{Type: ev.EventType, Name: ev.EventName, Parameters: ev.Parameter})
	}
}

// Normalize appends the canonical events of one activity record (one per
// event it holds), or of every activity of a list response, to dst.
func (Normalizer) Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error) {
	var a activity
	if err := json.Unmarshal(raw, &a); err != nil {
		return dst, fmt.Errorf("gworkspace: %w", norm.DecodeError(err))
	}
	if a.Items != nil {
		n := len(dst)
		for i, item := range a.Items {
			var ia activity
			if err := json.Unmarshal(item, &ia); err != nil {
				return dst[:n], fmt.Errorf("gworkspace: items[%d]: %w", i, norm.DecodeError(err))
			}
			var err error
			if dst, err = ia.events(dst, item, tenant); err != nil {
				return dst[:n], fmt.Errorf("gworkspace: items[%d]: %w", i, err)
			}
		}
		return dst, nil
	}
	n := len(dst)
	dst, err := a.events(dst, raw, tenant)
	if err != nil {
		return dst[:n], fmt.Errorf("gworkspace: %w", err)
	}
	return dst, nil
}

func (a *activity) events(dst []event.Event, raw []byte, tenant string) ([]event.Event, error) {
	if a.ID.ApplicationName == "" && a.ProtoPayload != nil && a.ProtoPayload.ServiceName != "" {
		a.fromCloudLogging(tenant)
	}
	if a.ID.ApplicationName == "" {
		return dst, ErrNotWorkspace
	}
	t, err := norm.ParseTime(a.ID.Time)
	if err != nil {
		return dst, fmt.Errorf("id.time: %w", err)
	}
	entries := a.Events
	if len(entries) == 0 {
		if a.Name == "" {
			return dst, errors.New("no event: neither events nor name")
		}
		entries = []eventEntry{{Type: a.Type, Name: a.Name, Parameters: a.Parameters}}
	}
	base := event.Event{
		Time:    t,
		Tenant:  norm.First(a.ID.CustomerID, tenant),
		Source:  event.SourceGWorkspace,
		Outcome: event.OutcomeSuccess,
		Raw:     raw,
		Actor: event.Actor{
			// The email, not the profile id: the targets of events are
			// named by email only, and a self-grant must show as one.
			ID:    norm.First(a.Actor.Email, a.Actor.ProfileID, a.Actor.Key),
			Name:  a.Actor.ProfileID,
			Type:  event.ActorUser,
			Email: norm.Email(a.Actor.Email),
			IP:    norm.NullString(a.IPAddress),
		},
	}
	switch {
	case strings.EqualFold(a.Actor.CallerType, "KEY"):
		// A service account or API key.
		base.Actor.Type = event.ActorApp
		base.Actor.ID = norm.First(a.Actor.Key, a.Actor.Email, a.Actor.ProfileID)
	case a.Actor.Email == "" && a.Actor.ProfileID == "":
		base.Actor.Type = event.ActorSystem
		base.Actor.ID = "google"
	}
	if ai := a.Actor.ApplicationInfo; ai != nil && ai.OAuthClientID != "" {
		base.Actor.UserAgent = "oauth client " + norm.First(ai.ApplicationName, ai.OAuthClientID)
	}
	id := a.ID.Time + "/" + a.ID.ApplicationName + "/" + string(a.ID.UniqueQualifier)
	if a.ID.UniqueQualifier == "" {
		id = norm.HashID(raw)
	}
	base.CorrelationID = string(a.ID.UniqueQualifier)
	for i, en := range entries {
		e := base
		e.ID = id
		if len(entries) > 1 {
			e.ID += "#" + strconv.Itoa(i+1)
		}
		p, err := readParams(en.Parameters)
		if err != nil {
			return dst, fmt.Errorf("events[%d].parameters: %w", i, err)
		}
		mapEvent(&e, a.ID.ApplicationName, strings.TrimSpace(en.Type), strings.TrimSpace(en.Name), p)
		dst = append(dst, e)
	}
	return dst, nil
}

// params are an event's parameters by name: a value, or several.
type params map[string][]string

func (p params) get(name string) string {
	if v := p[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readParams reads parameters as the API sends them ([{"name", "value" |
// "multiValue" | "intValue" | "boolValue"}]) or flattened ({NAME: value}).
func readParams(raw json.RawMessage) (params, error) {
	raw = bytes.TrimSpace(raw)
	p := params{}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return p, nil
	}
	if raw[0] == '[' {
		var list []struct {
			Name       string          `json:"name"`
			Value      norm.FlexString `json:"value"`
			MultiValue []string        `json:"multiValue"`
			// Cloud Logging's name for multiValue.
			MultiStrValue []string        `json:"multiStrValue"`
			IntValue      norm.FlexString `json:"intValue"`
			BoolValue     *bool           `json:"boolValue"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, norm.DecodeError(err)
		}
		for _, it := range list {
			switch {
			case it.MultiValue != nil:
				p[it.Name] = it.MultiValue
			case it.MultiStrValue != nil:
				p[it.Name] = it.MultiStrValue
			case it.BoolValue != nil:
				p[it.Name] = []string{strconv.FormatBool(*it.BoolValue)}
			default:
				p[it.Name] = []string{string(norm.First(string(it.Value), string(it.IntValue)))}
			}
		}
		return p, nil
	}
	var flat map[string]json.RawMessage
	if err := json.Unmarshal(raw, &flat); err != nil {
		return nil, norm.DecodeError(err)
	}
	for k, v := range flat {
		var many []json.RawMessage
		if len(v) > 0 && v[0] == '[' && json.Unmarshal(v, &many) == nil {
			for _, m := range many {
				p[k] = append(p[k], norm.Text(m))
			}
			continue
		}
		if t := norm.Text(v); t != "" {
			p[k] = []string{t}
		}
	}
	return p, nil
}
