// Package slack delivers scimwatch's notifications to Slack: one Block Kit
// message per notification, edited in place as it grows and when it is
// resolved, with a thread reply for each change, routed to a channel by
// severity, tenant or rule; and the interaction endpoint behind its
// Acknowledge, False positive and Silence buttons.
package slack

import (
	"errors"
	"fmt"
	"net/url"
	"text/template"

	secretpkg "github.com/scimwatch/scimwatch/internal/secret"

	"github.com/scimwatch/scimwatch/alerting"
)

// Config is the `alerting.slack:` section.
type Config struct {
	// APIURL is Slack's Web API, or a Slack-compatible server's.
	APIURL string `yaml:"api_url"`
	// The bot token and the signing secret come from the environment or a
	// file, never from this file.
	TokenEnv          string `yaml:"token_env"`
	TokenFile         string `yaml:"token_file"`
	SigningSecretEnv  string `yaml:"signing_secret_env"`
	SigningSecretFile string `yaml:"signing_secret_file"`
	// Channel is where notifications go that no route takes.
	Channel string `yaml:"channel"`
	// Redact replaces emails and names in the messages of Channel.
	Redact bool `yaml:"redact"`
	// Routes send notifications to other channels, first match wins.
	Routes []Route `yaml:"routes"`
	// DashboardURL is a Go template of a link to the dashboard, over the
	// notification's first alert: {{.Actor}}, {{.Tenant}}, {{.Rule}}.
	DashboardURL string `yaml:"dashboard_url"`
}

// Route sends the notifications its matchers match (rule, severity,
// tenant, actor) to a channel.
type Route struct {
	Match   alerting.Matchers `yaml:"match"`
	Channel string            `yaml:"channel"`
	Redact  bool              `yaml:"redact"`
}

// DefaultConfig returns the defaults: Slack's own API, the token in
// SLACK_BOT_TOKEN and the signing secret in SLACK_SIGNING_SECRET.
func DefaultConfig() Config {
	return Config{APIURL: "https://slack.com/api/", TokenEnv: "SLACK_BOT_TOKEN", SigningSecretEnv: "SLACK_SIGNING_SECRET"}
}

// Validate reports every problem, each with its path.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.APIURL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("alerting.slack.api_url: %q is not a URL", c.APIURL))
	}
	if c.Channel == "" {
		errs = append(errs, errors.New("alerting.slack.channel: required (where notifications no route takes go)"))
	}
	for i, r := range c.Routes {
		if r.Channel == "" {
			errs = append(errs, fmt.Errorf("alerting.slack.routes[%d].channel: required", i))
		}
		if len(r.Match) == 0 {
			errs = append(errs, fmt.Errorf("alerting.slack.routes[%d].match: required", i))
		}
		for l := range r.Match {
			if l == "target" || l == "key" {
				errs = append(errs, fmt.Errorf("alerting.slack.routes[%d].match.%s: route by rule, severity, tenant or actor", i, l))
			}
		}
	}
	if c.DashboardURL != "" {
		if _, err := template.New("").Option("missingkey=error").Parse(c.DashboardURL); err != nil {
			errs = append(errs, fmt.Errorf("alerting.slack.dashboard_url: %v", err))
		}
	}
	if c.TokenEnv == "" && c.TokenFile == "" {
		errs = append(errs, errors.New("alerting.slack: token_env or token_file is required"))
	}
	return errors.Join(errs...)
}

// secret reads a secret from an environment variable or a file.
func secret(what, env, file string) (string, error) {
	if file != "" {
		env = "" // the file, when both are named
	}
	v, err := secretpkg.Read(what, env, file)
	if err != nil {
		return "", fmt.Errorf("alerting.slack: %w", err)
	}
	return v, nil
}
