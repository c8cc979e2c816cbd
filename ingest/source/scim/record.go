package scim

import (
	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/ingest/source/internal/norm"
)

// Record is the request-log record scimwatch reads from a SCIM 2.0 server
// (RFC 7644): one per HTTP request the server handled. The README documents
// it as a contract for SCIM servers and gateways that want to be monitored.
//
//	{"time": "2026-11-24T10:00:00.123Z", "tenant": "acme", "request_id": "r-1",
//	 "client_id": "okta-scim", "source_ip": "203.0.113.5", "user_agent": "Okta SCIM Client",
//	 "method": "PATCH", "path": "/scim/v2/Groups/g-1", "status": 200,
//	 "request": {...request body...}, "response": {...response body...}}
//
// request and response may also be JSON-encoded strings, as some HTTP log
// pipelines write bodies.
type Record struct {
	Time      string       `json:"time"`
	Tenant    string       `json:"tenant"`
	RequestID string       `json:"request_id"`
	ClientID  string       `json:"client_id"`
	SourceIP  string       `json:"source_ip"`
	UserAgent string       `json:"user_agent"`
	Method    string       `json:"method"`
	Path      string       `json:"path"`
	Status    norm.FlexInt `json:"status"`
	// App is the app the SCIM server is, by the name the identity
	// provider gives it (the Okta app's label, the Entra service
	// principal's name); optional. It joins the app's writes to the
	// identity provider's deprovisioning of the same app.
	App      string          `json:"app"`
	Request  json.RawMessage `json:"request"`
	Response json.RawMessage `json:"response"`
}

// resource is the part of a User or Group body that scimwatch reads.
type resource struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName"`
	Name        struct {
		Formatted string `json:"formatted"`
	} `json:"name"`
	Emails []struct {
		Value   string          `json:"value"`
		Primary json.RawMessage `json:"primary"`
	} `json:"emails"`
	Active json.RawMessage `json:"active"`
	// Members as sent: objects, plain ids, or (from some clients) both.
	RawMembers json.RawMessage `json:"members"`
	Members    []member        `json:"-"`
}

// UnmarshalJSON reads a resource; members that are not {"value"} objects
// stay in RawMembers for members() to read.
func (r *resource) UnmarshalJSON(b []byte) error {
	type plain resource
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	r.Members = members(r.RawMembers)
	return nil
}

type member struct {
	Value   string `json:"value"`
	Display string `json:"display"`
}

// patchRequest is an RFC 7644 §3.5.2 PatchOp body.
type patchRequest struct {
	Operations []operation `json:"Operations"`
}

type operation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// scimError is an RFC 7644 §3.12 error response.
type scimError struct {
	Detail   string `json:"detail"`
	ScimType string `json:"scimType"`
}
