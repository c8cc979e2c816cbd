// Package service wires scimwatch's components into what its commands
// run, as Loki's pkg/loki does: the one config file (Config, with each
// component's section), the one HTTP server components register with
// (/metrics, /healthz, /readyz, Slack's interactions), the detection chain
// run, detect and replay share (NewDetection), run's components (Run), and
// the report and backtest. cmd/scimwatch parses flags and calls it.
package service

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/alerting/alertmanager"
	"github.com/scimwatch/scimwatch/alerting/slack"
	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/ingest/scimgateway"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Config is scimwatch's one config file: every command reads it (the same
// file), uses the sections it needs and leaves the others alone. Each
// component owns its section's type; this type only puts them together,
// as Loki's loki.Config does.
type Config struct {
	// kafka:, batch:, retry:, limits: (ingest's; the detector reads the
	// same topics).
	ingest.Config `yaml:",inline"`
	// ClickHouse is where events, alerts and history are kept.
	ClickHouse clickhouse.Config `yaml:"clickhouse"`
	// HTTP is the one server of /metrics, /healthz, /readyz and Slack's
	// interactions.
	HTTP HTTPConfig `yaml:"http"`
	// ShutdownTimeout bounds how long SIGTERM waits for the batch in
	// flight to land and for the notifications due to go out.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// Rules are the rule directories or files scimwatch run evaluates.
	Rules []string `yaml:"rules"`
	// Calendar is the time helpers' calendar (business hours, holidays).
	Calendar *rules.Calendar `yaml:"calendar"`
	Detect   detect.Config   `yaml:"detect"`
	History  HistoryConfig   `yaml:"history"`
	Alerting AlertingConfig  `yaml:"alerting"`
	// Components are the parts scimwatch run starts.
	Components struct {
		Ingest bool `yaml:"ingest"`
		Detect bool `yaml:"detect"`
	} `yaml:"components"`
	// Detector is run's streaming detector's consumer.
	Detector DetectorConfig `yaml:"detector"`
	// Collectors fetch the vendors' logs into kafka.topics (scimwatch run
	// starts them, scimwatch collect runs them alone).
	Collectors CollectorsConfig `yaml:"collectors"`
	// ScimGateway is scimwatch scim-gateway's proxy.
	ScimGateway *scimgateway.Config `yaml:"scim_gateway"`
}

// HTTPConfig is the listener of the one HTTP server.
type HTTPConfig struct {
	Listen string `yaml:"listen"`
}

// DetectorConfig is the detector's Kafka consumer (scimwatch run).
type DetectorConfig struct {
	// Group is the detector's consumer group (default: kafka.group with
	// "-detect").
	Group string `yaml:"group"`
	// Replay is how far back a newly assigned partition is re-read
	// (default: the longest window, sequence or dedup period of the rules,
	// plus allowed_lateness).
	Replay      time.Duration `yaml:"replay"`
	CommitEvery time.Duration `yaml:"commit_every"`
}

// AlertingConfig is the alerting: section: the notifier's settings and
// its integrations'.
type AlertingConfig struct {
	alerting.Config `yaml:",inline"`
	// Store is where alerts, their history, the notification log and
	// silences are kept: clickhouse (the clickhouse: section; durable) or
	// memory (lost at exit: for trying alerting out).
	Store        string              `yaml:"store"`
	Slack        slack.Config        `yaml:"slack"`
	Alertmanager alertmanager.Config `yaml:"alertmanager"`
}

// SlackOn and AlertmanagerOn say which integrations are configured.
func (c *AlertingConfig) SlackOn() bool        { return c.Slack.Channel != "" }
func (c *AlertingConfig) AlertmanagerOn() bool { return c.Alertmanager.URL != "" }

// Enabled reports whether any integration is configured.
func (c *AlertingConfig) Enabled() bool { return c.SlackOn() || c.AlertmanagerOn() }

// DefaultConfig is what a file that says nothing means.
func DefaultConfig() Config {
	cal := rules.DefaultCalendar()
	c := Config{Config: ingest.DefaultConfig(), ClickHouse: clickhouse.DefaultConfig(), HTTP: HTTPConfig{Listen: "127.0.0.1:9464"},
		ShutdownTimeout: 15 * time.Second, Calendar: &cal, Detect: detect.DefaultConfig(), History: DefaultHistoryConfig(),
		Alerting: AlertingConfig{Config: alerting.DefaultConfig(), Store: "clickhouse", Slack: slack.DefaultConfig(), Alertmanager: alertmanager.DefaultConfig()}}
	c.Components.Ingest, c.Components.Detect = true, true
	c.Detector.CommitEvery = time.Second
	return c
}

// Uses are the sections a command needs: those are validated and what
// they require must be there; the others are only decoded (a typo or a
// wrong type anywhere is still reported).
type Uses uint

const (
	// UsesIngest: kafka: (topics required), batch:, retry:, limits:.
	UsesIngest Uses = 1 << iota
	// UsesClickHouse: clickhouse:.
	UsesClickHouse
	// UsesDetection: calendar:, detect:, history: (and clickhouse: when
	// history.store is clickhouse).
	UsesDetection
	// UsesAlerting: alerting: (and clickhouse: when alerting.store is).
	UsesAlerting
	// UsesLimits: limits: alone (import).
	UsesLimits
	// UsesService: http:, shutdown_timeout:, components:, detector:,
	// rules: (scimwatch run), and what the enabled components use.
	UsesService
	// UsesCollectors: collectors: (scimwatch collect; run with any).
	UsesCollectors
	// UsesGateway: scim_gateway: and kafka.brokers (scimwatch
	// scim-gateway).
	UsesGateway
)

// Load reads the config file at path for a command that uses the sections
// uses names. Every problem is reported at once, each with its line or
// path: unknown keys (with the key probably meant), wrong types, values
// that do not validate. An empty path is the defaults with nothing
// stored: rules that learn start cold.
func Load(path string, uses Uses) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		cfg.Calendar = nil
		cfg.History.Store = "none"
		return cfg, cfg.Validate(uses &^ (UsesIngest | UsesService))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	cfg, err = Parse(b, uses)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// keyFirst is an error that begins with the key it is about.
var keyFirst = regexp.MustCompile(`^[a-z_]+(\[\d+\])?[.:\[]`)

// goType is the Go type yaml names in its errors, which a user does not
// need: " in type detect.Config".
var goType = regexp.MustCompile(` in type [\w.*\[\]]+`)

// Parse decodes and validates a config file's bytes (Load without the
// file).
func Parse(b []byte, uses Uses) (Config, error) {
	cfg := DefaultConfig()
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return cfg, err // a syntax error: nothing else can be read
	}
	if doc.Kind == 0 {
		return cfg, cfg.Validate(uses) // an empty file: the defaults
	}
	errs := checkKeys(&doc, reflect.TypeFor[Config](), "")
	if err := doc.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return cfg, errors.Join(append(errs, err)...)
		}
		for _, e := range te.Errors { // the decoder went on: validate the rest too
			errs = append(errs, errors.New(goType.ReplaceAllString(e, "")))
		}
	}
	cfg.Collectors.defaults()
	if err := cfg.Validate(uses); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// Validate reports every problem of the sections uses names.
func (c *Config) Validate(uses Uses) error {
	if uses&UsesService != 0 {
		if c.Components.Ingest {
			uses |= UsesIngest | UsesClickHouse
		}
		if c.Components.Detect {
			uses |= UsesIngest | UsesDetection | UsesAlerting
		}
	}
	var errs []error
	if uses&UsesIngest != 0 {
		if err := c.Config.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if uses&UsesLimits != 0 && uses&UsesIngest == 0 {
		errs = append(errs, prefixed("limits", c.Limits.Validate())...)
	}
	if uses&UsesClickHouse != 0 {
		errs = append(errs, prefixed("clickhouse", c.ClickHouse.Validate())...)
	}
	if uses&UsesDetection != 0 {
		errs = append(errs, prefixed("detect", c.Detect.Validate())...)
		if c.Calendar != nil {
			if err := c.Calendar.Check(); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, c.History.validate(&c.ClickHouse, uses&UsesClickHouse == 0)...)
	}
	if uses&UsesAlerting != 0 {
		errs = append(errs, c.Alerting.validate(&c.ClickHouse, uses&UsesClickHouse == 0)...)
	}
	if uses&UsesService != 0 {
		errs = append(errs, c.validateService()...)
	}
	if uses&UsesCollectors != 0 || (uses&UsesService != 0 && c.Collectors.Any()) {
		c.Collectors.defaults()
		errs = append(errs, c.Collectors.validate(c)...)
	}
	if uses&UsesGateway != 0 {
		errs = append(errs, c.validateGateway()...)
	}
	return errors.Join(errs...)
}

func (c *Config) validateService() []error {
	var errs []error
	if c.HTTP.Listen == "" {
		errs = append(errs, errors.New("http.listen: required"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown_timeout: must be positive"))
	}
	if !c.Components.Ingest && !c.Components.Detect && !c.Collectors.Any() {
		errs = append(errs, errors.New("components: ingest and detect are both off and no collectors: nothing to run"))
	}
	if c.Components.Detect && len(c.Rules) == 0 {
		errs = append(errs, errors.New("rules: at least one rules directory is required to detect (rules/builtin holds the built-in rules)"))
	}
	if c.Detector.Replay < 0 || c.Detector.CommitEvery <= 0 {
		errs = append(errs, errors.New("detector: replay must not be negative, commit_every must be positive"))
	}
	if c.Detector.Group != "" && c.Detector.Group == c.Kafka.Group {
		errs = append(errs, errors.New("detector.group: must differ from kafka.group (the detector reads every record again, on its own)"))
	}
	return errs
}

// prefixed names section in each of err's errors (a joined error is
// several).
func prefixed(section string, err error) []error {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			errs = append(errs, prefixed(section, e)...)
		}
		return errs
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, section+".") || strings.HasPrefix(msg, section+":"):
		return []error{err}
	case keyFirst.MatchString(msg): // "addrs: ...": clickhouse.addrs: ...
		return []error{fmt.Errorf("%s.%w", section, err)}
	}
	return []error{fmt.Errorf("%s: %w", section, err)}
}

func (c *AlertingConfig) validate(ch *clickhouse.Config, checkCH bool) []error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.SlackOn() {
		if err := c.Slack.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.AlertmanagerOn() {
		if err := c.Alertmanager.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Store {
	case "memory":
	case "clickhouse":
		if c.Enabled() && checkCH {
			if err := ch.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("clickhouse (alerting.store): %w", err))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("alerting.store: %q is not clickhouse or memory", c.Store))
	}
	return errs
}
