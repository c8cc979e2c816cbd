package scim

import (
	"bytes"
	"slices"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/internal/norm"
)

// user emits the event of a request on /Users.
func (b *builder) user(method, id string, req, resp []byte) {
	var in, out resource
	// A body that is not a resource still leaves an event, marked.
	b.read(req, &in, true)
	b.read(resp, &out, false)
	t := userTarget(id, &in, &out)
	targets := []event.Target{t}
	switch method {
	case "POST":
		cs := bodyChanges(req)
		b.emit(event.ActionUserCreate, grants(targets, cs), cs...)
	case "PUT":
		cs := bodyChanges(req)
		if v, ok := norm.Bool(in.Active); ok && !v {
			b.emit(event.ActionUserDeactivate, grants(targets, cs), cs...)
		} else {
			b.emit(event.ActionUserUpdate, grants(targets, cs), cs...)
		}
	case "PATCH":
		action := event.ActionUserUpdate
		var changes []event.Change
		for _, op := range b.patchOps(req) {
			for _, c := range op.changes() {
				if strings.EqualFold(c.Field, "active") {
					switch c.New {
					case "false":
						action = event.ActionUserDeactivate
					case "true":
						if action != event.ActionUserDeactivate {
							action = event.ActionUserReactivate
						}
					}
				}
				changes = append(changes, c)
			}
		}
		b.emit(action, grants(targets, changes), changes...)
	case "DELETE":
		b.emit(event.ActionUserDelete, targets)
	default:
		b.emit(event.ActionOther, targets)
	}
}

// group emits the events of a request on /Groups: one per member added or
// removed, and one group.update for other attributes.
func (b *builder) group(method, id string, req, resp []byte) {
	var in, out resource
	b.read(req, &in, true)
	b.read(resp, &out, false)
	g := event.Target{ID: norm.First(id, out.ID, in.ID), Type: event.TargetGroup, Name: norm.First(in.DisplayName, out.DisplayName)}
	ms := in.Members
	listed := len(in.RawMembers) > 0 && string(in.RawMembers) != "null"
	switch method {
	case "POST":
		// A group created with members: each member is added.
		b.emit(event.ActionGroupCreate, []event.Target{g})
		for _, m := range ms {
			b.emit(event.ActionGroupMemberAdd, []event.Target{g, m.target()})
		}
	case "PUT":
		// A PUT replaces the group: its members are those listed (as a
		// PATCH replace of members: every member removed, those listed
		// added). A PUT without members leaves membership alone.
		b.emit(event.ActionGroupUpdate, []event.Target{g})
		if listed {
			b.emit(event.ActionGroupMemberRemove, []event.Target{g}, event.Change{Field: "members", Old: "*"})
			for _, m := range ms {
				b.emit(event.ActionGroupMemberAdd, []event.Target{g, m.target()})
			}
		}
	case "DELETE":
		b.emit(event.ActionGroupDelete, []event.Target{g})
	case "PATCH":
		b.groupPatch(g, b.patchOps(req))
	default:
		b.emit(event.ActionOther, []event.Target{g})
	}
}

func (b *builder) groupPatch(g event.Target, ops []operation) {
	var changes []event.Change
	memberEvent := func(action string, m member) {
		b.emit(action, []event.Target{g, m.target()})
	}
	for _, op := range ops {
		verb := strings.ToLower(op.Op)
		path := attr(op.Path)
		switch {
		case strings.EqualFold(path, "members"):
			ms := members(op.Value)
			switch {
			case verb == "remove" && len(ms) == 0:
				// {"op":"remove","path":"members"} removes every member: one
				// event with the group as its only target.
				b.emit(event.ActionGroupMemberRemove, []event.Target{g}, event.Change{Field: "members", Old: "*"})
			case verb == "replace":
				b.emit(event.ActionGroupMemberRemove, []event.Target{g}, event.Change{Field: "members", Old: "*"})
				for _, m := range ms {
					memberEvent(event.ActionGroupMemberAdd, m)
				}
			case verb == "remove":
				for _, m := range ms {
					memberEvent(event.ActionGroupMemberRemove, m)
				}
			default:
				for _, m := range ms {
					memberEvent(event.ActionGroupMemberAdd, m)
				}
			}
		case strings.HasPrefix(strings.ToLower(path), "members["):
			// members[value eq "2819c223"]
			m := member{Value: filterValue(path)}
			if verb == "remove" {
				memberEvent(event.ActionGroupMemberRemove, m)
			} else {
				memberEvent(event.ActionGroupMemberAdd, m)
			}
		case path == "":
			// {"op":"add","value":{"members":[...],"displayName":"x"}}
			for _, c := range op.changes() {
				if !strings.EqualFold(c.Field, "members") {
					changes = append(changes, c)
				}
			}
			var v resource
			if json.Unmarshal(op.Value, &v) == nil {
				for _, m := range v.Members {
					if verb == "remove" {
						memberEvent(event.ActionGroupMemberRemove, m)
					} else {
						memberEvent(event.ActionGroupMemberAdd, m)
					}
				}
			}
		default:
			changes = append(changes, op.changes()...)
		}
	}
	if len(changes) > 0 || !b.set {
		b.emit(event.ActionGroupUpdate, []event.Target{g}, changes...)
	}
}

func userTarget(id string, in, out *resource) event.Target {
	t := event.Target{ID: norm.First(id, out.ID, in.ID), Type: event.TargetUser}
	t.Name = norm.First(out.DisplayName, in.DisplayName, out.Name.Formatted, in.Name.Formatted, out.UserName, in.UserName)
	t.Email = norm.First(primaryEmail(out), primaryEmail(in), norm.Email(out.UserName), norm.Email(in.UserName))
	return t
}

// primaryEmail returns the primary email of a resource, or its first.
func primaryEmail(r *resource) string {
	for _, e := range r.Emails {
		if v, _ := norm.Bool(e.Primary); v {
			return e.Value
		}
	}
	if len(r.Emails) > 0 {
		return r.Emails[0].Value
	}
	return ""
}

// patchOps reads the operations of a PatchOp body; a body that is not one
// has none, and is counted unread.
func (b *builder) patchOps(req []byte) []operation {
	var p patchRequest
	if !b.read(req, &p, true) {
		return nil
	}
	return p.Operations
}

// read decodes a request or response body into v. A body that is there
// but not of v's form is counted on the events as a field that could not
// be read (event.Trimmed.Unread): a request always, a response only when
// the request succeeded (an error page is no resource, and no surprise).
func (b *builder) read(body []byte, v any, request bool) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || bytes.Equal(body, []byte("null")) {
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		if request || b.base.Outcome == event.OutcomeSuccess {
			b.base.Trimmed.Unread++
		}
		return false
	}
	return true
}

// changes returns the attribute changes of one operation: one for a path,
// one per attribute for a value object without a path.
func (op *operation) changes() []event.Change {
	remove := strings.EqualFold(op.Op, "remove")
	if path := attr(op.Path); path != "" {
		c := event.Change{Field: path, New: text(op.Value)}
		if remove {
			c.New = ""
		}
		return []event.Change{c}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(op.Value, &obj) != nil {
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	cs := make([]event.Change, 0, len(keys))
	for _, k := range keys {
		// An extension's attributes come as an object under its schema
		// URN: {"urn:…:enterprise:2.0:User": {"manager": …}}; each is a
		// change of its own.
		var ext map[string]json.RawMessage
		if strings.HasPrefix(strings.ToLower(k), "urn:") && json.Unmarshal(obj[k], &ext) == nil {
			sub := make([]string, 0, len(ext))
			for sk := range ext {
				sub = append(sub, sk)
			}
			slices.Sort(sub)
			for _, sk := range sub {
				c := event.Change{Field: sk, New: text(ext[sk])}
				if remove {
					c.New = ""
				}
				cs = append(cs, c)
			}
			continue
		}
		c := event.Change{Field: attr(k), New: text(obj[k])}
		if remove {
			c.New = ""
		}
		cs = append(cs, c)
	}
	return cs
}

// text is a change value: booleans sent as strings ("False") are
// lower-cased so that "active" reads the same from every client.
func text(v json.RawMessage) string {
	if b, ok := norm.Bool(v); ok {
		if b {
			return "true"
		}
		return "false"
	}
	return norm.Text(v)
}

// attr strips a schema URN from an attribute path:
// "urn:ietf:params:scim:schemas:core:2.0:User:active" gives "active".
func attr(path string) string {
	path = strings.TrimSpace(path)
	if !strings.HasPrefix(strings.ToLower(path), "urn:") {
		return path
	}
	// The attribute follows the last ':' outside a filter's brackets.
	end := len(path)
	if i := strings.IndexByte(path, '['); i >= 0 {
		end = i
	}
	if i := strings.LastIndexByte(path[:end], ':'); i >= 0 {
		path = path[i+1:]
	}
	// "…:enterprise:2.0:User.manager" (a dot where RFC 7644 has a colon)
	// and "…:2.0:User:manager" both name manager.
	for _, res := range [...]string{"User.", "Group."} {
		if len(path) > len(res) && strings.EqualFold(path[:len(res)], res) {
			return path[len(res):]
		}
	}
	return path
}

// members reads a members value: an array of {"value", "display"} or of
// plain ids ("2819c223"), one of either, or a list written as a string.
// Entries without an id are dropped.
func members(v json.RawMessage) []member {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil
	}
	var ms []member
	switch v[0] {
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(v, &items) != nil {
			return nil
		}
		for _, it := range items {
			if it = bytes.TrimSpace(it); len(it) > 0 && it[0] != '[' { // no lists of lists
				ms = append(ms, members(it)...)
			}
		}
	case '{':
		var m member
		if json.Unmarshal(v, &m) == nil && strings.TrimSpace(m.Value) != "" {
			ms = append(ms, m)
		}
	case '"':
		var id string
		if json.Unmarshal(v, &id) != nil {
			return nil
		}
		if id = strings.TrimSpace(id); strings.HasPrefix(id, "[") || strings.HasPrefix(id, "{") {
			return members(json.RawMessage(id))
		}
		if id != "" {
			ms = append(ms, member{Value: id})
		}
	}
	return ms
}

func (m member) target() event.Target {
	return event.Target{ID: m.Value, Type: event.TargetUser, Name: m.Display}
}

// grants appends to a user's targets what a write gives the user inline:
// a role target per value of roles and entitlements, a group target per
// value of groups, a credential target per X.509 certificate. The rules ask
// whether a value is privileged (a role or group of the privileged lists, a
// certificate), not whether the attribute was sent: connectors push groups
// and roles on every ordinary create.
func grants(ts []event.Target, cs []event.Change) []event.Target {
	for _, c := range cs {
		if c.New == "" {
			continue
		}
		field := strings.ToLower(c.Field)
		if i := strings.IndexAny(field, "[."); i >= 0 {
			field = field[:i]
		}
		typ := ""
		switch field {
		case "roles", "entitlements":
			typ = event.TargetRole
		case "groups":
			typ = event.TargetGroup
		case "x509certificates":
			typ = event.TargetCredential
		default:
			continue
		}
		vs := members(json.RawMessage(c.New))
		if len(vs) == 0 && !strings.HasPrefix(strings.TrimSpace(c.New), "[") && !strings.HasPrefix(strings.TrimSpace(c.New), "{") {
			// roles[primary eq "True"].value: the value itself.
			vs = []member{{Value: c.New}}
		}
		for _, v := range vs {
			t := event.Target{ID: v.Value, Type: typ, Name: norm.First(v.Display, v.Value)}
			if typ == event.TargetCredential {
				t = event.Target{ID: norm.HashID([]byte(v.Value)), Type: typ, Name: "X.509 certificate"}
			}
			if !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// filterValue returns the compared value of a simple filter path:
// members[value eq "2819c223"] gives 2819c223.
func filterValue(path string) string {
	open, end := strings.IndexByte(path, '['), strings.LastIndexByte(path, ']')
	if open < 0 || end < open {
		return ""
	}
	f := path[open+1 : end]
	i := strings.Index(strings.ToLower(f), " eq ")
	if i < 0 {
		return ""
	}
	return strings.Trim(strings.TrimSpace(f[i+4:]), `"`)
}

// Mapping is one raw type and the action it maps to.
type Mapping struct {
	RawType, Action, Note string
}

// Mappings lists what the normalizer maps, for the README's generated
// table. Raw types are the method and the path without its base and ids.
func Mappings() []Mapping {
	return []Mapping{
		{"POST /Users", event.ActionUserCreate, ""},
		{"PUT /Users", event.ActionUserUpdate, "user.deactivate when active is false"},
		{"PATCH /Users", event.ActionUserUpdate, "user.deactivate when active becomes false, user.reactivate when it becomes true"},
		{"DELETE /Users", event.ActionUserDelete, ""},
		{"POST /Groups", event.ActionGroupCreate, "and a group.member.add per member listed"},
		{"PUT /Groups", event.ActionGroupUpdate, "with members: a group.member.remove of all, then a group.member.add per member"},
		{"PATCH /Groups", event.ActionGroupUpdate, "members added or removed: a group.member.add or group.member.remove per member; replace: remove all, then add"},
		{"DELETE /Groups", event.ActionGroupDelete, ""},
		{"GET, and other paths", event.ActionOther, "reads are kept"},
	}
}

// bodyChanges returns the attributes a POST or PUT body sets, one change
// each (an extension's attributes each their own), as a PATCH replace of
// them would: what a client wrote, for the rules that watch which
// attributes clients set. The resource's bookkeeping (schemas, id, meta)
// is left out.
func bodyChanges(req []byte) []event.Change {
	op := operation{Op: "replace", Value: req}
	cs := op.changes()
	out := cs[:0]
	for _, c := range cs {
		switch strings.ToLower(c.Field) {
		case "schemas", "id", "meta":
			continue
		}
		out = append(out, c)
	}
	return out
}
