// Package graph collects Microsoft Entra ID's audit, provisioning and
// sign-in logs from Microsoft Graph (auditLogs/directoryAudits,
// auditLogs/provisioning, auditLogs/signIns), for tenants that do not
// stream them to Event Hubs. Tokens come from Microsoft's own identity
// library (MSAL for Go), client credentials with a secret or a
// certificate.
package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	json "github.com/goccy/go-json"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/internal/secret"
)

// Vendor is the collectors' vendor label.
const Vendor = "graph"

// The logs, and the field each is filtered and ordered by.
var timeField = map[string]string{
	"directoryAudits": "activityDateTime",
	"provisioning":    "activityDateTime",
	"signIns":         "createdDateTime",
}

// DefaultLag is each log's overlap window: how late Microsoft documents
// its records may appear (Microsoft Entra reporting latency: audit and
// sign-in logs minutes, typically under 15; provisioning logs after the
// provisioning cycle, which runs every 40 minutes).
var DefaultLag = map[string]time.Duration{
	"directoryAudits": 15 * time.Minute,
	"signIns":         15 * time.Minute,
	"provisioning":    time.Hour,
}

// Config is one Entra tenant's Graph collector.
type Config struct {
	collect.Common `yaml:",inline"`
	// TenantID is the directory (tenant) id, ClientID the app
	// registration's, granted the application permission AuditLog.Read.All.
	TenantID string `yaml:"tenant_id"`
	ClientID string `yaml:"client_id"`
	// The app's credential: a client secret (environment or file), or a
	// certificate and its private key in one PEM file.
	ClientSecretEnv  string `yaml:"client_secret_env"`
	ClientSecretFile string `yaml:"client_secret_file"`
	CertificateFile  string `yaml:"certificate_file"`
	// Logs are the logs to collect (default all three).
	Logs []string `yaml:"logs"`
	// Lag overrides a log's overlap window.
	Lag map[string]time.Duration `yaml:"lag"`
	// Top is the page size ($top; at most 999).
	Top int `yaml:"top"`
	// GraphURL and AuthorityHost are Microsoft's (national clouds, or a
	// test's server).
	GraphURL      string `yaml:"graph_url"`
	AuthorityHost string `yaml:"authority_host"`
}

// Defaults fills what is unset.
func (c *Config) Defaults() {
	c.Common.Defaults(Vendor, time.Minute)
	if len(c.Logs) == 0 {
		c.Logs = []string{"directoryAudits", "provisioning", "signIns"}
	}
	if c.Top == 0 {
		c.Top = 999
	}
	if c.GraphURL == "" {
		c.GraphURL = "https://graph.microsoft.com"
	}
	if c.AuthorityHost == "" {
		c.AuthorityHost = "https://login.microsoftonline.com"
	}
}

// Validate reports every problem, each prefixed with p.
func (c *Config) Validate(p string) []error {
	errs := c.Common.Validate(p)
	add := func(f string, a ...any) { errs = append(errs, fmt.Errorf(p+f, a...)) }
	if c.TenantID == "" {
		add(".tenant_id: required (the directory's id)")
	}
	if c.ClientID == "" {
		add(".client_id: required (the app registration's)")
	}
	n := 0
	for _, s := range []string{c.ClientSecretEnv, c.ClientSecretFile, c.CertificateFile} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		add(": one of client_secret_env, client_secret_file or certificate_file")
	}
	errs = append(errs, c.windows(nil, "").Validate(p, "logs")...)
	if c.Top < 1 || c.Top > 999 {
		add(".top: 1 to 999")
	}
	for k, v := range map[string]string{"graph_url": c.GraphURL, "authority_host": c.AuthorityHost} {
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
			add(".%s: an https URL", k)
		}
	}
	return errs
}

// New returns the collector; credentials are read now.
func New(c Config, m *collect.Metrics) (*collect.Collector, error) {
	hc, err := c.HTTPClient()
	if err != nil {
		return nil, fmt.Errorf("graph %s: %w", c.Name, err)
	}
	var cred confidential.Credential
	if c.CertificateFile != "" {
		b, err := os.ReadFile(c.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("graph %s: certificate_file: %w", c.Name, err)
		}
		certs, key, err := confidential.CertFromPEM(b, "")
		if err != nil {
			return nil, fmt.Errorf("graph %s: certificate_file %s: %w", c.Name, c.CertificateFile, err)
		}
		if cred, err = confidential.NewCredFromCert(certs, key); err != nil {
			return nil, fmt.Errorf("graph %s: certificate_file %s: %w", c.Name, c.CertificateFile, err)
		}
	} else {
		s, err := secret.Read("client_secret", c.ClientSecretEnv, c.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("graph %s: %w", c.Name, err)
		}
		if cred, err = confidential.NewCredFromSecret(s); err != nil {
			return nil, fmt.Errorf("graph %s: %w", c.Name, err)
		}
	}
	base := strings.TrimRight(c.GraphURL, "/")
	a := &auth{authority: strings.TrimRight(c.AuthorityHost, "/") + "/" + c.TenantID, clientID: c.ClientID, cred: cred, hc: hc,
		scopes: []string{base + "/.default"}}
	if err := a.Refresh2(); err != nil {
		return nil, fmt.Errorf("graph %s: %w", c.Name, err)
	}
	api := &collect.API{HTTP: hc, Auth: a, Collector: c.Name, Vendor: Vendor, Tenant: c.Tenant, Metrics: m}
	col := &collect.Collector{Name: c.Name, Vendor: Vendor, Tenant: c.Tenant, Topic: c.Topic, Interval: c.PollInterval}
	c.windows(api, base).Add(col)
	return col, nil
}

// windows are the logs to poll, fetched through api from base.
func (c *Config) windows(api *collect.API, base string) collect.Windows {
	return collect.Windows{Names: c.Logs, Lag: c.Lag, Default: DefaultLag, Start: c.Start, Fetch: func(l string) collect.Fetch {
		return (&fetcher{api: api, base: base, log: l, field: timeField[l], top: c.Top}).fetch
	}}
}

type fetcher struct {
	api              *collect.API
	base, log, field string
	top              int
}

// fetch pages through one log's records of [from, to): the filter on its
// time field, then each page's @odata.nextLink.
func (f *fetcher) fetch(ctx context.Context, from, to time.Time, page func([]collect.Record) error) error {
	q := url.Values{"$filter": {fmt.Sprintf("%s ge %s and %s lt %s", f.field, from.UTC().Format(time.RFC3339), f.field, to.UTC().Format(time.RFC3339))},
		"$top": {strconv.Itoa(f.top)}}
	next := f.base + "/v1.0/auditLogs/" + f.log + "?" + q.Encode()
	for next != "" {
		resp, err := f.api.Get(ctx, next)
		if err != nil {
			return err
		}
		var body struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(resp.Body, &body); err != nil || body.Value == nil {
			f.api.Count("malformed")
			if err == nil {
				err = errors.New("no value array")
			}
			return &collect.MalformedError{URL: f.base + "/v1.0/auditLogs/" + f.log, Err: err}
		}
		recs := make([]collect.Record, len(body.Value))
		for i, v := range body.Value {
			recs[i] = f.record(v)
		}
		if err := page(recs); err != nil {
			return err
		}
		if next = body.NextLink; next != "" && !strings.HasPrefix(next, f.base+"/") {
			return fmt.Errorf("graph: @odata.nextLink points outside %s; not followed", f.base)
		}
	}
	return nil
}

func (f *fetcher) record(raw []byte) collect.Record {
	var r struct {
		ID       string `json:"id"`
		Activity string `json:"activityDateTime"`
		Created  string `json:"createdDateTime"`
	}
	_ = json.Unmarshal(raw, &r)
	ts := r.Activity
	if f.field == "createdDateTime" {
		ts = r.Created
	}
	t, _ := time.Parse(time.RFC3339Nano, ts)
	id := r.ID
	if id != "" {
		id = f.log + ":" + id
	}
	return collect.Record{ID: id, Time: t, Raw: raw}
}

// auth gets app tokens from MSAL, which caches them until they expire; a
// token Graph refuses sooner (revoked) makes a new client, so a new token.
type auth struct {
	authority, clientID string
	cred                confidential.Credential
	hc                  *http.Client
	scopes              []string

	mu     sync.Mutex
	client confidential.Client
}

// Refresh2 makes a new MSAL client (and so an empty token cache).
func (a *auth) Refresh2() error {
	c, err := confidential.New(a.authority, a.clientID, a.cred, confidential.WithHTTPClient(a.hc), confidential.WithInstanceDiscovery(false))
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.client = c
	a.mu.Unlock()
	return nil
}

func (a *auth) Refresh() { _ = a.Refresh2() }

func (a *auth) Authorize(ctx context.Context, r *http.Request) error {
	a.mu.Lock()
	c := a.client
	a.mu.Unlock()
	res, err := c.AcquireTokenByCredential(ctx, a.scopes)
	if err != nil {
		var ce msalerrors.CallErr
		var cep *msalerrors.CallErr
		switch {
		case errors.As(err, &ce) && ce.Resp != nil:
			return tokenRefusal(ce.Resp.StatusCode, err)
		case errors.As(err, &cep) && cep.Resp != nil:
			return tokenRefusal(cep.Resp.StatusCode, err)
		}
		return fmt.Errorf("getting a token: %w", err)
	}
	r.Header.Set("Authorization", "Bearer "+res.AccessToken)
	return nil
}

// tokenRefusal: the identity platform's 400 and 401 (a wrong secret, an
// expired certificate, a deleted app) are refusals; the rest is retried.
func tokenRefusal(status int, err error) error {
	if status/100 == 4 && status != http.StatusTooManyRequests {
		return collect.Refused(status, "token endpoint: "+firstLine(err.Error()))
	}
	return fmt.Errorf("getting a token: %w", err)
}

func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
