// Package scim normalizes the request log of a SCIM 2.0 server (RFC 7643 /
// RFC 7644) into canonical events, PATCH operations included, honouring what
// real clients send: capitalised ops ("Replace"), string booleans ("False"),
// and remove-all-members ({"op": "remove", "path": "members"}).
package scim

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/norm"
)

// Normalizer turns SCIM request-log records into canonical events. The zero
// value is ready to use and safe for concurrent use.
type Normalizer struct{}

// ErrNotSCIM is returned for a JSON object that is not a request-log record.
var ErrNotSCIM = errors.New("not a SCIM request-log record (needs method and path)")

// Normalize appends the events of one request to dst: one for most
// requests, one per member for group membership PATCHes. Event.Raw aliases
// raw.
func (Normalizer) Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error) {
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return dst, fmt.Errorf("scim: %w", norm.DecodeError(err))
	}
	if r.Method == "" || r.Path == "" {
		return dst, fmt.Errorf("scim: %w", ErrNotSCIM)
	}
	t, err := norm.ParseTime(r.Time)
	if err != nil {
		return dst, fmt.Errorf("scim: time: %w", err)
	}
	kind, id := splitPath(r.Path)
	method := strings.ToUpper(r.Method)
	base := event.Event{
		Time:          t,
		Tenant:        norm.First(r.Tenant, tenant),
		Source:        event.SourceSCIM,
		RawType:       method + " /" + kind,
		CorrelationID: norm.First(r.RequestID, norm.HashID(raw)),
		Raw:           raw,
		Actor: event.Actor{
			ID:        r.ClientID,
			Type:      event.ActorApp,
			Name:      r.ClientID,
			IP:        r.SourceIP,
			UserAgent: r.UserAgent,
		},
	}
	if kind == "" {
		base.RawType = method + " " + stripQuery(r.Path)
	}
	base.Outcome, base.Reason = outcome(int(r.Status), body(r.Response))

	b := builder{base: base, dst: dst}
	if app := strings.TrimSpace(r.App); app != "" {
		b.app = &event.Target{ID: app, Type: event.TargetApp, Name: app}
	}
	switch {
	case method == "GET" && id == "" && kind != "":
		// A list or a search: what it asked and what came back, so that
		// a client paging through the directory shows.
		b.emit(event.ActionOther, nil, listRead(r.Path, body(r.Response))...)
	case kind == "Users":
		b.user(method, id, body(r.Request), body(r.Response))
	case kind == "Groups":
		b.group(method, id, body(r.Request), body(r.Response))
	default:
		b.emit(event.ActionOther, nil)
	}
	b.number()
	return b.dst, nil
}

// builder collects the events of one request.
type builder struct {
	base  event.Event
	app   *event.Target // the record's app, added to every event's targets
	dst   []event.Event
	start int
	set   bool
}

func (b *builder) emit(action string, targets []event.Target, changes ...event.Change) {
	if !b.set {
		b.start, b.set = len(b.dst), true
	}
	e := b.base
	e.Action = action
	if b.app != nil {
		targets = append(slices.Clip(targets), *b.app)
	}
	e.Targets = targets
	if len(changes) > 0 {
		e.Changes = changes
	}
	b.dst = append(b.dst, e)
}

// number gives the events their ids: the request id when there is one
// event, "<request id>#<n>" (from 1) when a request made several.
func (b *builder) number() {
	evs := b.dst[b.start:]
	for i := range evs {
		evs[i].ID = b.base.CorrelationID
		if len(evs) > 1 {
			evs[i].ID += "#" + strconv.Itoa(i+1)
		}
	}
}

// splitPath finds the resource type ("Users", "Groups", "Bulk", …) and id
// in a request path with any base prefix: /scim/v2/Users/2819c223 gives
// ("Users", "2819c223").
func splitPath(p string) (kind, id string) {
	segs := strings.Split(strings.Trim(stripQuery(p), "/"), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		for _, k := range [...]string{"Users", "Groups"} {
			if strings.EqualFold(segs[i], k) {
				if i+1 < len(segs) {
					id, _ = url.PathUnescape(segs[i+1])
				}
				return k, id
			}
		}
	}
	return "", ""
}

func stripQuery(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// body returns a request or response body as JSON, unwrapping a body that
// a log pipeline wrote as a JSON-encoded string.
func body(raw json.RawMessage) []byte {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
	}
	return raw
}

func outcome(status int, resp []byte) (string, string) {
	switch {
	case status >= 200 && status < 400:
		return event.OutcomeSuccess, ""
	case status >= 400:
		var se scimError
		_ = json.Unmarshal(resp, &se)
		reason := norm.First(se.Detail, se.ScimType)
		if reason == "" {
			reason = "HTTP " + strconv.Itoa(status)
		}
		return event.OutcomeFailure, reason
	}
	return event.OutcomeUnknown, ""
}

// listRead returns what a list or search request (GET /Users, GET /Groups)
// asked, from its query (filter, startIndex, count, attributes), and what
// came back, from its ListResponse (totalResults, and returned: the
// resources in it), each a change; what is absent is left out.
func listRead(path string, resp []byte) []event.Change {
	var cs []event.Change
	if i := strings.IndexByte(path, '?'); i >= 0 {
		q, _ := url.ParseQuery(path[i+1:])
		for _, k := range [...]string{"filter", "startIndex", "count", "attributes"} {
			if v := q.Get(k); v != "" {
				cs = append(cs, event.Change{Field: k, New: v})
			}
		}
	}
	var lr struct {
		TotalResults *norm.FlexInt     `json:"totalResults"`
		Resources    []json.RawMessage `json:"Resources"`
	}
	if json.Unmarshal(resp, &lr) == nil {
		if lr.TotalResults != nil {
			cs = append(cs, event.Change{Field: "totalResults", New: strconv.Itoa(int(*lr.TotalResults))})
		}
		if lr.Resources != nil {
			cs = append(cs, event.Change{Field: "returned", New: strconv.Itoa(len(lr.Resources))})
		}
	}
	return cs
}
