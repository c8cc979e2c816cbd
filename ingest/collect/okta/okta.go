// Package okta collects Okta's System Log: polled from the System Log API
// (GET /api/v1/logs, with an API token or an OAuth 2.0 service app), or
// pushed by Okta Event Hooks to an endpoint of scimwatch's.
package okta

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"golang.org/x/oauth2"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/internal/secret"
)

// Vendor is the collectors' vendor label.
const Vendor = "okta"

// Config is one Okta org's System Log collector.
type Config struct {
	collect.Common `yaml:",inline"`
	// URL is the org's, https://acme.okta.com.
	URL string `yaml:"url"`
	// An API token (SSWS), from the environment or a file; or OAuth.
	APITokenEnv  string `yaml:"api_token_env"`
	APITokenFile string `yaml:"api_token_file"`
	OAuth        *OAuth `yaml:"oauth"`
	// Limit is the page size (at most 1000, Okta's maximum).
	Limit int `yaml:"limit"`
	// RateLimitShare is the part of the org's System Log rate limit this
	// collector may use (default 0.5): the rest is left to the org's other
	// clients.
	RateLimitShare float64 `yaml:"rate_limit_share"`
}

// OAuth is an Okta API service app: a client id and the private key whose
// public key the app has (private_key_jwt), granted okta.logs.read.
type OAuth struct {
	ClientID       string   `yaml:"client_id"`
	PrivateKeyFile string   `yaml:"private_key_file"`
	KeyID          string   `yaml:"key_id"`
	Scopes         []string `yaml:"scopes"`
}

// Defaults fills what is unset.
func (c *Config) Defaults() {
	c.Common.Defaults(Vendor, 30*time.Second)
	if c.Limit == 0 {
		c.Limit = 1000
	}
	if c.RateLimitShare == 0 {
		c.RateLimitShare = 0.5
	}
	if c.OAuth != nil && len(c.OAuth.Scopes) == 0 {
		c.OAuth.Scopes = []string{"okta.logs.read"}
	}
}

// Validate reports every problem, each prefixed with p.
func (c *Config) Validate(p string) []error {
	errs := c.Common.Validate(p)
	if u, err := url.Parse(c.URL); c.URL == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		errs = append(errs, fmt.Errorf("%s.url: the org's URL, as https://acme.okta.com", p))
	}
	creds := 0
	if c.APITokenEnv != "" || c.APITokenFile != "" {
		creds++
	}
	if c.APITokenEnv != "" && c.APITokenFile != "" {
		errs = append(errs, fmt.Errorf("%s: api_token_env and api_token_file: one, not both", p))
	}
	if c.OAuth != nil {
		creds++
		if c.OAuth.ClientID == "" || c.OAuth.PrivateKeyFile == "" {
			errs = append(errs, fmt.Errorf("%s.oauth: client_id and private_key_file are required", p))
		}
	}
	if creds != 1 {
		errs = append(errs, fmt.Errorf("%s: one of api_token_env, api_token_file or oauth says how to sign in", p))
	}
	if c.Limit < 1 || c.Limit > 1000 {
		errs = append(errs, fmt.Errorf("%s.limit: 1 to 1000", p))
	}
	if c.RateLimitShare <= 0 || c.RateLimitShare > 1 {
		errs = append(errs, fmt.Errorf("%s.rate_limit_share: more than 0, at most 1", p))
	}
	return errs
}

// New returns the collector. Secrets are read now: a missing one is an
// error at start, not at the first poll.
func New(c Config, m *collect.Metrics) (*collect.Collector, error) {
	hc, err := c.HTTPClient()
	if err != nil {
		return nil, fmt.Errorf("okta %s: %w", c.Name, err)
	}
	base := strings.TrimRight(c.URL, "/")
	var auth collect.Auth
	if c.OAuth != nil {
		a, err := newAssertion(*c.OAuth, base+"/oauth2/v1/token", hc)
		if err != nil {
			return nil, fmt.Errorf("okta %s: %w", c.Name, err)
		}
		// Each token request carries a new assertion.
		auth = &collect.TokenAuth{New: func() oauth2.TokenSource { return oauth2.ReuseTokenSource(nil, a) }}
	} else {
		tok, err := secret.Read("api_token", c.APITokenEnv, c.APITokenFile)
		if err != nil {
			return nil, fmt.Errorf("okta %s: %w", c.Name, err)
		}
		auth = ssws(tok)
	}
	api := &collect.API{HTTP: hc, Auth: auth, Collector: c.Name, Vendor: Vendor, Tenant: c.Tenant, Metrics: m, Share: c.RateLimitShare}
	s := &stream{api: api, base: base, limit: c.Limit, start: c.Start}
	return &collect.Collector{Name: c.Name, Vendor: Vendor, Tenant: c.Tenant, Topic: c.Topic, Interval: c.PollInterval,
		Streams: []collect.Stream{s}}, nil
}

// stream polls /api/v1/logs as Okta documents polling: since the start,
// ascending, then each page's Link rel="next" for ever (Okta gives one
// even when there is nothing new). The cursor is that link. Polling
// queries select by the time Okta stored an event, not its published
// time, so an event stored late is still after the cursor: Okta's own
// lateness needs no overlap window.
type stream struct {
	api   *collect.API
	base  string
	limit int
	start time.Duration
}

func (s *stream) Name() string { return "logs" }

type cursor struct {
	Next string `json:"next"`
}

func (s *stream) Poll(ctx context.Context, cur []byte, page func(collect.Page) error) error {
	var c cursor
	if cur != nil {
		if err := json.Unmarshal(cur, &c); err != nil || !s.sameOrigin(c.Next) {
			c.Next = "" // another org's, or not ours: start again
		}
	}
	next := c.Next
	if next == "" {
		q := url.Values{"since": {time.Now().Add(-s.start).UTC().Format(time.RFC3339)},
			"limit": {strconv.Itoa(s.limit)}, "sortOrder": {"ASCENDING"}}
		next = s.base + "/api/v1/logs?" + q.Encode()
	}
	for {
		resp, err := s.api.Get(ctx, next)
		if err != nil {
			return err
		}
		recs, err := records(resp.Body)
		if err != nil {
			s.api.Count("malformed")
			return &collect.MalformedError{URL: s.base + "/api/v1/logs", Err: err}
		}
		link := nextLink(strings.Join(resp.Header.Values("Link"), ","))
		if link != "" && !s.sameOrigin(link) {
			// A link elsewhere would take our token with it.
			return fmt.Errorf("okta: Link rel=next points outside %s; not followed", s.base)
		}
		if link == "" {
			link = next // none (Okta always sends one): ask again later
		}
		c, _ := json.Marshal(cursor{Next: link})
		if err := page(collect.Page{Records: recs, Cursor: c}); err != nil {
			return err
		}
		if len(recs) < s.limit || link == next {
			return nil // caught up
		}
		next = link
	}
}

func (s *stream) sameOrigin(link string) bool {
	u, err := url.Parse(link)
	b, _ := url.Parse(s.base)
	return err == nil && u.Scheme == b.Scheme && u.Host == b.Host && u.Path == strings.TrimRight(b.Path, "/")+"/api/v1/logs"
}

// records splits a page, a JSON array of LogEvents, into its records,
// each unchanged.
func records(body []byte) ([]collect.Record, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("not a JSON array of events: %w", err)
	}
	recs := make([]collect.Record, len(items))
	for i, it := range items {
		recs[i] = record(it)
	}
	return recs, nil
}

// record reads a LogEvent's uuid and published time; a record without
// them is produced as it is (ingest dead-letters what it cannot read).
func record(raw []byte) collect.Record {
	var e struct {
		UUID      string `json:"uuid"`
		Published string `json:"published"`
	}
	_ = json.Unmarshal(raw, &e)
	t, _ := time.Parse(time.RFC3339Nano, e.Published)
	return collect.Record{ID: e.UUID, Time: t, Raw: raw}
}

// nextLink finds rel="next" in a Link header (RFC 8288): Okta sends
// <url>; rel="self", <url>; rel="next", in one header or several.
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		lt, gt := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
		if lt != 0 || gt < 0 {
			continue
		}
		for _, p := range strings.Split(part[gt+1:], ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
				return part[1:gt]
			}
		}
	}
	return ""
}

// ssws is an API token.
type ssws string

func (t ssws) Authorize(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "SSWS "+string(t))
	return nil
}
func (ssws) Refresh() {}
