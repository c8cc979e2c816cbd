// Package clickhouse stores canonical events in ClickHouse over the native
// protocol: versioned schema migrations embedded in the binary, batched
// inserts, and retention by dropping day partitions. Everything it creates
// works on ClickHouse 18.16 (Debian's) and on current releases.
package clickhouse

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/scimwatch/scimwatch/internal/tlsconf"
)

// Config says how to reach ClickHouse.
type Config struct {
	// Addrs are host:port of the native protocol (9000 by default).
	Addrs []string `yaml:"addrs"`
	// Database is created if absent.
	Database string `yaml:"database"`
	Username string `yaml:"username"`
	// The password comes from the environment variable PasswordEnv or the
	// file PasswordFile, never from the config file itself.
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// RulesUsername is the user scheduled rules' queries run as: one that
	// may only read scimwatch's database (README, "Least privilege"); its
	// password from RulesPasswordEnv or RulesPasswordFile. Empty: Username.
	RulesUsername     string        `yaml:"rules_username"`
	RulesPasswordEnv  string        `yaml:"rules_password_env"`
	RulesPasswordFile string        `yaml:"rules_password_file"`
	DialTimeout       time.Duration `yaml:"dial_timeout"`
	// Secure speaks the native protocol over TLS (ClickHouse's
	// tcp_port_secure, 9440 by default; ClickHouse Cloud), verifying the
	// server as TLS says.
	Secure bool           `yaml:"secure"`
	TLS    tlsconf.Config `yaml:"tls"`
	// Compression of inserts on the wire: lz4 (less network, more CPU) or
	// none (for a ClickHouse on the same host).
	Compression string `yaml:"compression"`
	// Retention keeps this many days of events; older day partitions are
	// dropped. 0 keeps everything.
	RetentionDays int `yaml:"retention_days"`
	// RollupInterval is how often the dashboards' roll-ups of past days
	// are brought up to date (0: never; the dashboards then read events
	// alone, exact but slow over long ranges).
	RollupInterval time.Duration `yaml:"rollup_interval"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Addrs:          []string{"127.0.0.1:9000"},
		Database:       "scimwatch",
		Username:       "default",
		DialTimeout:    5 * time.Second,
		Compression:    "lz4",
		RetentionDays:  400,
		RollupInterval: 5 * time.Minute,
	}
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports every problem of c.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("addrs: at least one host:port is required"))
	}
	for i, a := range c.Addrs {
		if !strings.Contains(a, ":") {
			errs = append(errs, fmt.Errorf("addrs[%d]: %q is not host:port", i, a))
		}
	}
	if !identifier.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("database: %q is not a plain identifier", c.Database))
	}
	if c.PasswordEnv != "" && c.PasswordFile != "" {
		errs = append(errs, errors.New("password_env and password_file: set at most one"))
	}
	if c.RulesPasswordEnv != "" && c.RulesPasswordFile != "" {
		errs = append(errs, errors.New("rules_password_env and rules_password_file: set at most one"))
	}
	if c.RulesUsername == "" && (c.RulesPasswordEnv != "" || c.RulesPasswordFile != "") {
		errs = append(errs, errors.New("rules_password_env or rules_password_file without rules_username"))
	}
	if c.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("retention_days: %d is negative", c.RetentionDays))
	}
	if c.RollupInterval < 0 {
		errs = append(errs, fmt.Errorf("rollup_interval: %s is negative", c.RollupInterval))
	}
	if c.Compression != "lz4" && c.Compression != "none" {
		errs = append(errs, fmt.Errorf("compression: %q is not lz4 or none", c.Compression))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, errors.New("dial_timeout: must be positive"))
	}
	if !c.Secure && c.TLS != (tlsconf.Config{}) {
		errs = append(errs, errors.New("tls: set, but secure is false"))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// tlsConfig is the TLS of the connections, nil when not secure.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if !c.Secure {
		return nil, nil
	}
	return c.TLS.Load()
}

// password reads the password from the environment or a file.
func (c *Config) password() (string, error) {
	return secret("password_file", c.PasswordEnv, c.PasswordFile)
}

// rulesUser returns the user and password scheduled rules' queries run as.
func (c *Config) rulesUser() (string, string, error) {
	if c.RulesUsername == "" {
		pw, err := c.password()
		return c.Username, pw, err
	}
	pw, err := secret("rules_password_file", c.RulesPasswordEnv, c.RulesPasswordFile)
	return c.RulesUsername, pw, err
}

func secret(fileKey, env, file string) (string, error) {
	switch {
	case env != "":
		return os.Getenv(env), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", fileKey, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}
