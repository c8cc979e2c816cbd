// Package ingest turns raw identity-provider audit records into canonical
// events: it frames input streams (Reader), detects each record's source and
// normalizes it (Normalizer), and, later, streams Kafka into ClickHouse.
package ingest

import (
	"errors"
	"fmt"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/ingest/entra"
	"github.com/scimwatch/scimwatch/ingest/internal/norm"
	"github.com/scimwatch/scimwatch/ingest/okta"
	"github.com/scimwatch/scimwatch/ingest/scim"
)

// Normalizer appends the canonical events of one raw record to dst. A
// record may hold several events (an Event Hubs batch, an Okta Event Hook
// delivery, a SCIM PATCH adding several members). tenant is the default for
// records that name none. Events' Raw fields alias raw.
type Normalizer interface {
	Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error)
}

// SourceAuto detects each record's source.
const SourceAuto = "auto"

// Sources lists the values accepted by ForSource.
var Sources = []string{SourceAuto, event.SourceOkta, event.SourceEntra, event.SourceSCIM}

var bySource = map[string]Normalizer{
	event.SourceOkta:  okta.Normalizer{},
	event.SourceEntra: entra.Normalizer{},
	event.SourceSCIM:  scim.Normalizer{},
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

// ErrUnknownSource is returned by Auto for a record of no known source.
var ErrUnknownSource = errors.New("cannot tell the source of the record (not Okta, Entra ID or SCIM)")

// Auto detects the source of each record from its top-level fields and
// normalizes it with that source's Normalizer.
type Auto struct{}

// present records that a field is there and not null, without decoding it.
type present bool

func (p *present) UnmarshalJSON(b []byte) error {
	*p = string(b) != "null"
	return nil
}

// probe holds the top-level fields that tell sources apart.
type probe struct {
	EventType string `json:"eventType"` // Okta LogEvent
	Data      *struct {
		Events present `json:"events"`
	} `json:"data"` // Okta Event Hook
	Records             present `json:"records"`    // Event Hubs batch
	Value               present `json:"value"`      // Graph list
	Properties          present `json:"properties"` // Azure Monitor
	ActivityDisplayName string  `json:"activityDisplayName"`
	ProvisioningAction  string  `json:"provisioningAction"`
	JobID               string  `json:"jobId"`
	CreatedDateTime     string  `json:"createdDateTime"`
	Method              string  `json:"method"` // SCIM request log
	Path                string  `json:"path"`
}

// Detect returns the source of one raw record.
func Detect(raw []byte) (string, error) {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", norm.DecodeError(err)
	}
	switch {
	case p.Data != nil && bool(p.Data.Events):
		return event.SourceOkta, nil
	case bool(p.Records) || bool(p.Value) || bool(p.Properties) ||
		p.ActivityDisplayName != "" || p.ProvisioningAction != "" || p.JobID != "" || p.CreatedDateTime != "":
		return event.SourceEntra, nil
	case p.Method != "" && p.Path != "":
		return event.SourceSCIM, nil
	case p.EventType != "":
		return event.SourceOkta, nil
	}
	return "", ErrUnknownSource
}

// Normalize implements Normalizer.
func (Auto) Normalize(dst []event.Event, raw []byte, tenant string) ([]event.Event, error) {
	src, err := Detect(raw)
	if err != nil {
		return dst, err
	}
	return bySource[src].Normalize(dst, raw, tenant)
}
