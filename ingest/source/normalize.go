// Package source turns raw identity-provider audit records into canonical
// events: it frames input streams (Reader), detects each record's source and
// normalizes it (Normalizer) with the source packages below it (okta, entra,
// scim). It has no transport: the Kafka ingester, the commands and the rule
// tests all read records through it.
package source

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/source/entra"
	"github.com/scimwatch/scimwatch/ingest/source/gworkspace"
	"github.com/scimwatch/scimwatch/ingest/source/internal/norm"
	"github.com/scimwatch/scimwatch/ingest/source/okta"
	"github.com/scimwatch/scimwatch/ingest/source/scim"
)

// Normalizer appends the canonical events of one raw record to dst. A
// record may hold several events (an Event Hubs batch, an Okta Event Hook
// delivery, a SCIM PATCH adding several members). tenant is the default for
// records that name none. Events' Raw fields alias raw.
type Normalizer interface {
	Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error)
}

// SourceAuto detects each record's source; SourceCanonical reads records
// that are already canonical events (scimwatch's own NDJSON).
const (
	SourceAuto      = "auto"
	SourceCanonical = "canonical"
)

// Sources lists the values accepted by ForSource.
var Sources = []string{SourceAuto, event.SourceOkta, event.SourceEntra, event.SourceSCIM, event.SourceGWorkspace, SourceCanonical}

var bySource = map[string]Normalizer{
	event.SourceOkta:       okta.Normalizer{},
	event.SourceEntra:      entra.Normalizer{},
	event.SourceSCIM:       scim.Normalizer{},
	event.SourceGWorkspace: gworkspace.Normalizer{},
	SourceCanonical:        canonical{},
}

// canonical reads canonical events back. With skipRaw their raw is not
// read: replay and detection do not need it, and it is most of the bytes.
type canonical struct{ skipRaw bool }

func (c canonical) Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error) {
	mode := event.RawAlias
	if c.skipRaw {
		mode = event.RawSkip
	}
	dst = append(dst, event.Event{})
	e := &dst[len(dst)-1]
	if err := event.Decode(e, raw, mode); err != nil {
		return dst[:len(dst)-1], fmt.Errorf("canonical event: %w", norm.DecodeError(err))
	}
	if e.Tenant == "" {
		e.Tenant = tenant
	}
	if !event.ValidAction(e.Action) {
		return dst[:len(dst)-1], fmt.Errorf("canonical event: action %q is not in the vocabulary", e.Action)
	}
	if e.ID == "" {
		e.ID = norm.HashID(raw)
	}
	return dst, nil
}

// ForSource returns the Normalizer of a source name ("auto", "okta",
// "entra", "scim").
func ForSource(name string) (Normalizer, error) {
	if name == SourceAuto || name == "" {
		return Auto{}, nil
	}
	if n, ok := bySource[name]; ok {
		return n, nil
	}
	return nil, fmt.Errorf("unknown source %q (want one of %s)", name, strings.Join(Sources, ", "))
}

// NormalizeTest appends to evs the events of a rule test's raw record of
// source src, as ingest and detection see them (DefaultLimits applied):
// the rules.Normalizer scimwatch runs rule tests with.
func NormalizeTest(evs []event.Event, src string, raw []byte) ([]event.Event, error) {
	n, err := ForSource(src)
	if err != nil {
		return evs, err
	}
	first := len(evs)
	if evs, err = n.Normalize(evs, raw, "test"); err != nil {
		return evs, err
	}
	DefaultLimits().Apply(evs[first:], time.Now())
	return evs, nil
}

// ErrUnknownSource is returned by Auto for a record of no known source.
var ErrUnknownSource = errors.New("cannot tell the source of the record (not Okta, Entra ID, SCIM or Google Workspace)")

// Auto detects the source of each record from its top-level fields and
// normalizes it with that source's Normalizer.
type Auto struct {
	// SkipRaw leaves events' Raw empty, and does not read the raw of
	// canonical records: what replay and detection want.
	SkipRaw bool
}

// Detect returns the source of one raw record from its top-level keys,
// matched case-insensitively as the decoders do. The first telling key
// decides, so detection stops early:
//
//	data (Okta Event Hook), eventType                         okta
//	records, value (batches), properties, tenantId, resourceId,
//	category, operationName, correlationId, activityDisplayName,
//	provisioningAction, jobId, createdDateTime                entra
//	method and path, both                                     scim
//	kind, ownerDomain, or id whose value is an object,
//	protoPayload, logName, insertId (Cloud Logging)           gworkspace
//	raw_type (scimwatch's own canonical events)               canonical
//
// Keys whose value is null do not count.
func Detect(raw []byte) (string, error) {
	var k keys
	src, ok := k.scan(raw)
	if !ok {
		// Not an object, or not valid JSON: let the decoder say why.
		var v map[string]struct{}
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", norm.DecodeError(err)
		}
	}
	if src == "" {
		return "", ErrUnknownSource
	}
	return src, nil
}

// keys is the set of SCIM keys seen so far: SCIM needs both.
type keys uint8

const (
	keyMethod keys = 1 << iota
	keyPath
)

// tellingKeys maps lower-cased top-level keys to a source, or to a SCIM
// key bit.
var tellingKeys = map[string]any{
	"data": event.SourceOkta, "eventtype": event.SourceOkta,
	"records": event.SourceEntra, "value": event.SourceEntra, "properties": event.SourceEntra,
	"tenantid": event.SourceEntra, "resourceid": event.SourceEntra, "category": event.SourceEntra,
	"operationname": event.SourceEntra, "correlationid": event.SourceEntra,
	"activitydisplayname": event.SourceEntra, "provisioningaction": event.SourceEntra,
	"jobid": event.SourceEntra, "createddatetime": event.SourceEntra,
	"method": keyMethod, "path": keyPath,
	"kind": event.SourceGWorkspace, "ownerdomain": event.SourceGWorkspace,
	// Google Cloud Logging entries: Workspace audit logs exported there.
	"protopayload": event.SourceGWorkspace, "logname": event.SourceGWorkspace, "insertid": event.SourceGWorkspace,
	"raw_type": SourceCanonical,
}

// scan walks the top-level object of b, skipping values without decoding
// them, until a telling key decides the source. ok is false for anything
// but a well-formed object (as far as it read).
func (k *keys) scan(b []byte) (src string, ok bool) {
	var lower [24]byte
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return "", true
	}
	for i < len(b) {
		if b[i] != '"' {
			return "", false
		}
		st := scanState{scalar: true}
		end, ok := st.run(b, i)
		if !ok {
			return "", false
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return "", false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return "", false
		}
		st = scanState{scalar: b[i] != '{' && b[i] != '['}
		if end, ok = st.run(b, i); !ok && !(st.scalar && !st.inStr) {
			return "", false
		}
		if len(key) <= len(lower) && !bytes.Equal(b[i:end], []byte("null")) {
			for j, c := range key {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				lower[j] = c
			}
			lk := string(lower[:len(key)])
			if lk == "id" && b[i] == '{' {
				// Google Workspace's id is an object; everyone else's a string.
				return event.SourceGWorkspace, true
			}
			switch t := tellingKeys[lk].(type) {
			case string:
				return t, true
			case keys:
				if *k |= t; *k == keyMethod|keyPath {
					return event.SourceSCIM, true
				}
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return "", false
		}
		switch b[i] {
		case '}':
			return "", true
		case ',':
			i = skipSpace(b, i+1)
		default:
			return "", false
		}
	}
	return "", false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Normalize implements Normalizer.
func (a Auto) Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error) {
	src, err := Detect(raw)
	if err != nil {
		return dst, err
	}
	if !a.SkipRaw {
		return bySource[src].Normalize(dst, raw, tenant)
	}
	if src == SourceCanonical {
		return canonical{skipRaw: true}.Normalize(dst, raw, tenant)
	}
	n := len(dst)
	dst, err = bySource[src].Normalize(dst, raw, tenant)
	for i := n; i < len(dst); i++ {
		dst[i].Raw = nil
	}
	return dst, err
}
