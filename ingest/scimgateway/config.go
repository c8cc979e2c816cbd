package scimgateway

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/scimwatch/scimwatch/internal/tlsconf"
)

// Config is the scim_gateway: section.
type Config struct {
	// Listen is the gateway's address; CertFile and KeyFile its
	// certificate, or PlainHTTP behind a proxy that terminates TLS.
	Listen    string `yaml:"listen"`
	CertFile  string `yaml:"cert_file"`
	KeyFile   string `yaml:"key_file"`
	PlainHTTP bool   `yaml:"plain_http"`
	// Upstream is the app's SCIM base URL, as https://app.internal; a
	// request's path and query go to it unchanged.
	Upstream    string         `yaml:"upstream"`
	UpstreamTLS tlsconf.Config `yaml:"upstream_tls"`
	// Tenant and App are what each record says (the app by the name the
	// identity provider gives it); Topic is where records go, a topic of
	// source scim (or auto).
	Tenant string `yaml:"tenant"`
	App    string `yaml:"app"`
	Topic  string `yaml:"topic"`
	// Rules refuse what a client may not do.
	Rules []Rule `yaml:"rules"`
	// Mask are the attribute names whose values are masked in recorded
	// bodies (case-insensitive; default: password and secret-like names).
	Mask []string `yaml:"mask"`
	// MaxBodyBytes bounds a request body (larger: 413); larger response
	// bodies pass through and are recorded cut.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxClients bounds the clients whose written attributes are
	// remembered (for new_attributes).
	MaxClients int `yaml:"max_clients"`
	// QueueRecords bounds the records waiting for Kafka; past it they go
	// to stderr, counted.
	QueueRecords int `yaml:"queue_records"`
}

// Rule refuses a request when Deny, an expr expression over the request
// (see Request), is true.
type Rule struct {
	Name string `yaml:"name"`
	Deny string `yaml:"deny"`
	// Status is the answer (default 403).
	Status int `yaml:"status"`
}

// DefaultMask are the attributes masked when Mask is empty.
var DefaultMask = []string{"password", "secret", "client_secret", "token", "access_token", "refresh_token", "api_key", "apikey", "pin", "otp"}

// Defaults fills what is unset.
func (c *Config) Defaults() {
	if len(c.Mask) == 0 {
		c.Mask = DefaultMask
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxClients == 0 {
		c.MaxClients = 10000
	}
	if c.QueueRecords == 0 {
		c.QueueRecords = 10000
	}
	for i := range c.Rules {
		if c.Rules[i].Status == 0 {
			c.Rules[i].Status = 403
		}
	}
}

// Validate reports every problem, each prefixed with p; rules are
// compiled too.
func (c *Config) Validate(p string) []error {
	var errs []error
	add := func(f string, a ...any) { errs = append(errs, fmt.Errorf(p+f, a...)) }
	if c.Listen == "" {
		add(".listen: required")
	}
	if c.PlainHTTP == (c.CertFile != "" || c.KeyFile != "") {
		add(": cert_file and key_file, or plain_http: true behind a proxy that terminates TLS")
	}
	if u, err := url.Parse(c.Upstream); c.Upstream == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		add(".upstream: the app's SCIM base URL, as https://app.internal")
	}
	if err := c.UpstreamTLS.Validate(); err != nil {
		add(".upstream_%v", err)
	}
	if c.Tenant == "" || c.Topic == "" {
		add(": tenant and topic are required")
	}
	if c.MaxBodyBytes < 1024 || c.MaxClients < 1 || c.QueueRecords < 1 {
		add(": max_body_bytes (at least 1024), max_clients and queue_records must be positive")
	}
	names := map[string]bool{}
	for i, r := range c.Rules {
		if r.Name == "" || names[r.Name] {
			add(".rules[%d].name: required, and unique", i)
		}
		names[r.Name] = true
		if r.Status < 400 || r.Status > 599 {
			add(".rules[%d].status: a 4xx or 5xx", i)
		}
		if _, err := compile(r.Deny); err != nil {
			add(".rules[%d].deny: %v", i, err)
		}
	}
	return errs
}

func maskSet(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

var errEmpty = errors.New("required")
