package collect

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/scimwatch/scimwatch/internal/tlsconf"
)

// Common is what every collector's config has.
type Common struct {
	// Name identifies the collector in metrics, logs and its cursors'
	// keys (default: vendor-tenant). Renaming it starts it over.
	Name string `yaml:"name"`
	// Tenant is whose log it is: the tenant of the topic's records.
	Tenant string `yaml:"tenant"`
	// Topic is the Kafka topic its records go to: one of kafka.topics, so
	// that ingest and the detector read it.
	Topic string `yaml:"topic"`
	// PollInterval is how long it waits after catching up.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Start is how far back the first poll ever begins.
	Start time.Duration `yaml:"start"`
	// TLS is how the vendor's certificate is checked (default: the
	// system's roots).
	TLS tlsconf.Config `yaml:"tls"`
}

// Defaults fills what is unset.
func (c *Common) Defaults(vendor string, interval time.Duration) {
	if c.Name == "" && c.Tenant != "" {
		c.Name = vendor + "-" + c.Tenant
	}
	if c.PollInterval == 0 {
		c.PollInterval = interval
	}
	if c.Start == 0 {
		c.Start = 24 * time.Hour
	}
}

// Validate reports every problem, each prefixed with p.
func (c *Common) Validate(p string) []error {
	var errs []error
	if c.Tenant == "" {
		errs = append(errs, fmt.Errorf("%s.tenant: required", p))
	}
	if c.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.topic: required", p))
	}
	if c.PollInterval < time.Second {
		errs = append(errs, fmt.Errorf("%s.poll_interval: at least 1s", p))
	}
	if c.Start < 0 {
		errs = append(errs, fmt.Errorf("%s.start: negative", p))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", p, err))
	}
	return errs
}

// HTTPClient is a client for the vendor's API and token endpoints,
// verifying servers as TLS says.
func (c *Common) HTTPClient() (*http.Client, error) {
	tc, err := c.TLS.Load()
	if err != nil {
		return nil, err
	}
	return NewHTTPClient(tc), nil
}

// NewHTTPClient is an HTTP client with timeouts fit for a vendor's API.
func NewHTTPClient(tc *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t, Timeout: 2 * time.Minute,
		// A vendor's API does not redirect; one that does is not followed
		// with our credentials.
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirect refused") }}
}
