// Package alertmanager pushes scimwatch's alerts to Prometheus
// Alertmanager's v2 API, so that on-call teams route, group, silence and
// page with the tools they already run. Firing alerts are sent again every
// resend interval (Alertmanager resolves an alert it stops hearing of);
// resolved, silenced and false-positive ones are sent with their end.
package alertmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-openapi/strfmt"
	amclient "github.com/prometheus/alertmanager/api/v2/client"
	amalert "github.com/prometheus/alertmanager/api/v2/client/alert"
	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/scimwatch/scimwatch/alerting"
)

// Config is the `alerting.alertmanager:` section.
type Config struct {
	// URL is Alertmanager's base URL: http://alertmanager:9093.
	URL string `yaml:"url"`
	// ResendInterval is how often open alerts are sent again; Alertmanager
	// holds an alert for four of them.
	ResendInterval time.Duration `yaml:"resend_interval"`
	// OneShotFor is how long an alert without a dedup period (a simple
	// rule's) fires in Alertmanager unless a person closes it first.
	OneShotFor time.Duration `yaml:"oneshot_for"`
	// GeneratorURL is a link sent with each alert (a dashboard).
	GeneratorURL string        `yaml:"generator_url"`
	Timeout      time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{ResendInterval: time.Minute, OneShotFor: time.Hour, Timeout: 10 * time.Second}
}

// Validate reports every problem.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("alerting.alertmanager.url: %q is not a URL", c.URL))
	}
	if c.ResendInterval < time.Second {
		errs = append(errs, errors.New("alerting.alertmanager.resend_interval: at least 1s"))
	}
	if c.OneShotFor <= 0 {
		errs = append(errs, errors.New("alerting.alertmanager.oneshot_for: must be positive"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("alerting.alertmanager.timeout: must be positive"))
	}
	return errors.Join(errs...)
}

// Receiver sends notifications' alerts to Alertmanager.
type Receiver struct {
	cfg Config
	api *amclient.AlertmanagerAPI
	now func() time.Time
}

var _ alerting.Receiver = (*Receiver)(nil)

// New returns a Receiver.
func New(cfg Config) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL)
	tc := amclient.DefaultTransportConfig().WithHost(u.Host).WithSchemes([]string{u.Scheme}).
		WithBasePath(strings.TrimSuffix(u.Path, "/") + amclient.DefaultBasePath)
	return &Receiver{cfg: cfg, api: amclient.NewHTTPClientWithConfig(strfmt.Default, tc), now: time.Now}, nil
}

// Name implements alerting.Receiver.
func (r *Receiver) Name() string { return "alertmanager" }

// Resend implements alerting.Receiver.
func (r *Receiver) Resend() time.Duration { return r.cfg.ResendInterval }

// Notify implements alerting.Receiver: every alert of n, firing with an end
// four resend intervals away, or ended.
func (r *Receiver) Notify(ctx context.Context, n *alerting.Notification, last alerting.Delivery, _ func(alerting.Delivery) error) (alerting.Delivery, error) {
	now := r.now()
	var alerts models.PostableAlerts
	live := false
	for _, a := range n.Alerts {
		pa := r.postable(&a, n.ID, now)
		live = live || time.Time(pa.EndsAt).After(now)
		alerts = append(alerts, pa)
	}
	// Every alert ended, and Alertmanager was told so: nothing to resend
	// (one-shot alerts nobody closed stay open here for keep_for).
	if !live && last.Shown == "ended" && last.Version == n.Version {
		return alerting.Delivery{Shown: "ended"}, nil
	}
	shown := n.Status()
	if !live {
		shown = "ended"
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	_, err := r.api.Alert.PostAlerts(amalert.NewPostAlertsParamsWithContext(ctx).WithAlerts(alerts))
	if err != nil {
		return alerting.Delivery{}, classify(err)
	}
	return alerting.Delivery{Shown: shown}, nil
}

func (r *Receiver) postable(a *alerting.Alert, notification string, now time.Time) *models.PostableAlert {
	end := now.Add(4 * r.cfg.ResendInterval)
	switch {
	case !a.Open():
		end = a.StatusAt
		if end.After(now) || end.IsZero() {
			end = now
		}
	case a.OneShot:
		// For oneshot_for after it was raised: an event reported late (an
		// off-hours create found in the morning, a back-fill) still shows.
		raised := a.First
		if a.Observed.After(raised) {
			raised = a.Observed
		}
		if until := raised.Add(r.cfg.OneShotFor); until.Before(end) {
			end = until
		}
	}
	// Labels are the alert's identity in Alertmanager: nothing that changes
	// (status, count) goes there.
	labels := models.LabelSet{"alertname": a.Rule, "rule": a.Rule, "severity": a.Severity, "tenant": a.Tenant,
		"actor": a.Actor, "scimwatch_id": a.ID, "notification": notification}
	annotations := models.LabelSet{"title": a.Title, "summary": a.Summary, "status": a.Status}
	if a.Description != "" {
		annotations["description"] = a.Description
	}
	if a.Runbook != "" {
		annotations["runbook_url"] = a.Runbook
	}
	if a.StatusBy != "" && a.StatusBy != "detect" {
		annotations["status_by"] = a.StatusBy
	}
	pa := &models.PostableAlert{Annotations: annotations, StartsAt: strfmt.DateTime(a.First), EndsAt: strfmt.DateTime(end),
		Alert: models.Alert{Labels: labels}}
	if r.cfg.GeneratorURL != "" {
		pa.GeneratorURL = strfmt.URI(r.cfg.GeneratorURL)
	}
	return pa
}

// classify: a request Alertmanager refuses (400) needs people; anything
// else (5xx, network) is retried.
func classify(err error) error {
	err = fmt.Errorf("alertmanager: %w", err)
	var bad *amalert.PostAlertsBadRequest
	if errors.As(err, &bad) {
		return err
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code() >= 400 && coded.Code() < 500 && coded.Code() != http.StatusTooManyRequests {
		return err
	}
	return &alerting.RetryError{Err: err}
}
