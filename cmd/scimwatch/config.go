package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/alertmanager"
	"github.com/scimwatch/scimwatch/alerting/slack"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// detectionConfig is the file --config names for detect, replay and the
// rules and silence commands: the calendar of the time helpers, the
// engine's settings, alerting, and the ClickHouse that keeps alerting's
// history.
type detectionConfig struct {
	Calendar   *rules.Calendar   `yaml:"calendar"`
	Detect     detect.Config     `yaml:"detect"`
	History    historyConfig     `yaml:"history"`
	Alerting   alertingConfig    `yaml:"alerting"`
	ClickHouse clickhouse.Config `yaml:"clickhouse"`
}

// alertingConfig is the alerting: section: the notifier's settings and
// its integrations'.
type alertingConfig struct {
	alerting.Config `yaml:",inline"`
	// Store is where alerts, their history, the notification log and
	// silences are kept: clickhouse (the clickhouse: section; durable) or
	// memory (lost at exit: for trying alerting out).
	Store        string              `yaml:"store"`
	Slack        slack.Config        `yaml:"slack"`
	Alertmanager alertmanager.Config `yaml:"alertmanager"`
}

// slackOn and alertmanagerOn say which integrations are configured.
func (c *alertingConfig) slackOn() bool        { return c.Slack.Channel != "" }
func (c *alertingConfig) alertmanagerOn() bool { return c.Alertmanager.URL != "" }

// enabled reports whether any integration is configured.
func (c *alertingConfig) enabled() bool { return c.slackOn() || c.alertmanagerOn() }

func (c *alertingConfig) validate(ch *clickhouse.Config) []error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.slackOn() {
		if err := c.Slack.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.alertmanagerOn() {
		if err := c.Alertmanager.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Store {
	case "memory":
	case "clickhouse":
		if c.enabled() {
			if err := ch.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("clickhouse (alerting.store): %w", err))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("alerting.store: %q is not clickhouse or memory", c.Store))
	}
	return errs
}

func defaultDetectionConfig() detectionConfig {
	return detectionConfig{Detect: detect.DefaultConfig(), ClickHouse: clickhouse.DefaultConfig(), History: defaultHistoryConfig(),
		Alerting: alertingConfig{Config: alerting.DefaultConfig(), Store: "clickhouse", Slack: slack.DefaultConfig(), Alertmanager: alertmanager.DefaultConfig()}}
}

// goType is the Go type yaml names in its errors: " in type detect.Config".
var goType = regexp.MustCompile(` in type [\w.*\[\]]+`)

func loadDetectionConfig(path string) (detectionConfig, error) {
	cfg := defaultDetectionConfig()
	if path == "" {
		// Nothing says where ClickHouse is: rules that learn start cold.
		cfg.History.Store = "none"
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	// A calendar: section fills in the default calendar: what it does not
	// say stays the default's.
	def := rules.DefaultCalendar()
	cfg.Calendar = &def
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		for _, e := range te.Errors { // the decoder went on: validate the rest too
			errs = append(errs, errors.New(goType.ReplaceAllString(e, "")))
		}
	}
	errs = append(errs, cfg.validate()...)
	if len(errs) > 0 {
		return cfg, fmt.Errorf("%s: %w", path, errors.Join(errs...))
	}
	return cfg, nil
}

// validate reports every problem of the sections.
func (cfg *detectionConfig) validate() []error {
	var errs []error
	if err := cfg.Detect.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("detect: %w", err))
	}
	if cfg.Calendar != nil {
		if err := cfg.Calendar.Check(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, cfg.Alerting.validate(&cfg.ClickHouse)...)
	errs = append(errs, cfg.History.validate(&cfg.ClickHouse)...)
	return errs
}
