// Package workspace collects Google Workspace's audit activities from the
// Admin SDK Reports API (activities.list, one stream per application), as
// a service account with domain-wide delegation impersonating an admin.
// Tokens come from the Go team's oauth2 (its jwt package: the JWT bearer flow);
// the Reports API's one list call is made here, not through Google's
// generated API client, which would add 14 MB and 260 packages (gRPC,
// OpenTelemetry) to the binary for it.
package workspace

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/scimwatch/scimwatch/ingest/collect"
)

// Vendor is the collectors' vendor label.
const Vendor = "workspace"

// Scope is the one the service account is delegated.
const Scope = "https://www.googleapis.com/auth/admin.reports.audit.readonly"

// DefaultLag is each application's overlap window, from Google's "Data
// retention and lag times": admin, groups, user accounts and SAML log
// events near real time (a couple of minutes), OAuth token and login
// events up to a few hours.
var DefaultLag = map[string]time.Duration{
	"admin":         20 * time.Minute,
	"groups":        20 * time.Minute,
	"user_accounts": 20 * time.Minute,
	"saml":          20 * time.Minute,
	"token":         3 * time.Hour,
	"login":         3 * time.Hour,
}

// Config is one Workspace customer's collector.
type Config struct {
	collect.Common `yaml:",inline"`
	// CredentialsFile is the service account's JSON key.
	CredentialsFile string `yaml:"credentials_file"`
	// Subject is the admin the service account acts as (domain-wide
	// delegation of the scope admin.reports.audit.readonly).
	Subject string `yaml:"subject"`
	// CustomerID is the customer's id (default: the subject's).
	CustomerID string `yaml:"customer_id"`
	// Applications are those to collect (default: admin, login, token,
	// groups, saml, user_accounts).
	Applications []string `yaml:"applications"`
	// Lag overrides an application's overlap window.
	Lag map[string]time.Duration `yaml:"lag"`
	// MaxResults is the page size (at most 1000).
	MaxResults int `yaml:"max_results"`
	// ReportsURL is Google's (or a test's server).
	ReportsURL string `yaml:"reports_url"`
}

// Defaults fills what is unset.
func (c *Config) Defaults() {
	c.Common.Defaults(Vendor, time.Minute)
	if len(c.Applications) == 0 {
		c.Applications = []string{"admin", "login", "token", "groups", "saml", "user_accounts"}
	}
	if c.MaxResults == 0 {
		c.MaxResults = 1000
	}
	if c.ReportsURL == "" {
		c.ReportsURL = "https://admin.googleapis.com"
	}
}

// Validate reports every problem, each prefixed with p.
func (c *Config) Validate(p string) []error {
	errs := c.Common.Validate(p)
	add := func(f string, a ...any) { errs = append(errs, fmt.Errorf(p+f, a...)) }
	if c.CredentialsFile == "" {
		add(".credentials_file: required (the service account's JSON key)")
	}
	if !strings.Contains(c.Subject, "@") {
		add(".subject: the admin's email the service account acts as")
	}
	errs = append(errs, c.windows(nil).Validate(p, "applications")...)
	if c.MaxResults < 1 || c.MaxResults > 1000 {
		add(".max_results: 1 to 1000")
	}
	if u, err := url.Parse(c.ReportsURL); err != nil || u.Scheme != "https" || u.Host == "" {
		add(".reports_url: an https URL")
	}
	return errs
}

// New returns the collector; the key is read now.
func New(c Config, m *collect.Metrics) (*collect.Collector, error) {
	hc, err := c.HTTPClient()
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", c.Name, err)
	}
	key, err := os.ReadFile(c.CredentialsFile)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: credentials_file: %w", c.Name, err)
	}
	jc, err := jwtConfig(key, c.Subject)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: credentials_file %s: %w", c.Name, c.CredentialsFile, err)
	}
	a := &collect.TokenAuth{New: func() oauth2.TokenSource {
		return jc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, hc))
	}}
	api := &collect.API{HTTP: hc, Auth: a, Collector: c.Name, Vendor: Vendor, Tenant: c.Tenant, Metrics: m, Retryable: rateLimited}
	col := &collect.Collector{Name: c.Name, Vendor: Vendor, Tenant: c.Tenant, Topic: c.Topic, Interval: c.PollInterval}
	c.windows(api).Add(col)
	return col, nil
}

// windows are the applications to poll, fetched through api.
func (c *Config) windows(api *collect.API) collect.Windows {
	return collect.Windows{Names: c.Applications, Lag: c.Lag, Default: DefaultLag, Start: c.Start, Fetch: func(app string) collect.Fetch {
		return (&fetcher{api: api, base: strings.TrimRight(c.ReportsURL, "/"), app: app, max: c.MaxResults, customer: c.CustomerID}).fetch
	}}
}

// rateLimited: Google answers a quota or rate limit with 403 and a reason
// saying so; those are retried, other 403s (no delegation, no admin
// right) are refusals.
func rateLimited(status int, body []byte) bool {
	if status != http.StatusForbidden {
		return false
	}
	var e struct {
		Error struct {
			Errors []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	for _, r := range e.Error.Errors {
		switch r.Reason {
		case "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded":
			return true
		}
	}
	return false
}

type fetcher struct {
	api                 *collect.API
	base, app, customer string
	max                 int
}

// fetch pages through one application's activities of [from, to):
// startTime and endTime, then each page's nextPageToken.
func (f *fetcher) fetch(ctx context.Context, from, to time.Time, page func([]collect.Record) error) error {
	q := url.Values{"startTime": {from.UTC().Format(time.RFC3339)}, "endTime": {to.UTC().Format(time.RFC3339)}, "maxResults": {strconv.Itoa(f.max)}}
	if f.customer != "" {
		q.Set("customerId", f.customer)
	}
	endpoint := f.base + "/admin/reports/v1/activity/users/all/applications/" + f.app
	for {
		resp, err := f.api.Get(ctx, endpoint+"?"+q.Encode())
		if err != nil {
			return err
		}
		var body struct {
			Kind          string            `json:"kind"`
			Items         []json.RawMessage `json:"items"`
			NextPageToken string            `json:"nextPageToken"`
		}
		if err := json.Unmarshal(resp.Body, &body); err != nil || body.Kind != "admin#reports#activities" {
			f.api.Count("malformed")
			if err == nil {
				err = fmt.Errorf("kind %q, not admin#reports#activities", body.Kind)
			}
			return &collect.MalformedError{URL: endpoint, Err: err}
		}
		recs := make([]collect.Record, len(body.Items))
		for i, it := range body.Items {
			recs[i] = record(it)
		}
		if err := page(recs); err != nil {
			return err
		}
		if body.NextPageToken == "" {
			return nil
		}
		q.Set("pageToken", body.NextPageToken)
	}
}

// record reads an activity's id: its application, time and unique
// qualifier together name it.
func record(raw []byte) collect.Record {
	var a struct {
		ID struct {
			Time            string          `json:"time"`
			UniqueQualifier json.RawMessage `json:"uniqueQualifier"`
			ApplicationName string          `json:"applicationName"`
		} `json:"id"`
	}
	_ = json.Unmarshal(raw, &a)
	t, _ := time.Parse(time.RFC3339Nano, a.ID.Time)
	id := ""
	if a.ID.Time != "" && len(a.ID.UniqueQualifier) > 0 {
		id = a.ID.ApplicationName + ":" + a.ID.Time + ":" + strings.Trim(string(a.ID.UniqueQualifier), `"`)
	}
	return collect.Record{ID: id, Time: t, Raw: raw}
}

// jwtConfig reads a service account's JSON key into the JWT bearer flow's
// config (what golang.org/x/oauth2/google does, without its dependency on
// Google Cloud's metadata client).
func jwtConfig(key []byte, subject string) (*jwt.Config, error) {
	var k struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
		TokenURI     string `json:"token_uri"`
	}
	if err := json.Unmarshal(key, &k); err != nil {
		return nil, fmt.Errorf("not a service account's JSON key: %w", err)
	}
	if k.Type != "service_account" || k.ClientEmail == "" || k.PrivateKey == "" {
		return nil, fmt.Errorf("not a service account's key (type %q): create a key for the service account and download it as JSON", k.Type)
	}
	if k.TokenURI == "" {
		k.TokenURI = "https://oauth2.googleapis.com/token"
	}
	return &jwt.Config{Email: k.ClientEmail, PrivateKey: []byte(k.PrivateKey), PrivateKeyID: k.PrivateKeyID,
		Scopes: []string{Scope}, TokenURL: k.TokenURI, Subject: subject}, nil
}
