// Package kafka is scimwatch's one way to Kafka, used by ingest, detection,
// the dead letters, the simulator and the benchmarks: the client's
// configuration (the brokers; TLS and SASL next), consumer groups and
// their generations, partition readers whose fetches are retried with
// backoff for as long as the partition is assigned, offsets committed as
// a generation goes, and the lag of each partition, measured against the
// broker even while the consumer cannot move. Like Loki's pkg/kafka, it
// knows nothing of what the records hold.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/scimwatch/scimwatch/internal/secret"
	"github.com/scimwatch/scimwatch/internal/tlsconf"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Client is how scimwatch reaches Kafka: the kafka: section's brokers and
// security. Every connection scimwatch opens to Kafka is made through it,
// so that TLS and SASL hold for every one: groups, partition readers,
// writers, the lag client, readiness.
type Client struct {
	// Brokers are the bootstrap brokers, host:port. None: scimwatch run
	// starts an embedded in-memory broker.
	Brokers []string `yaml:"brokers"`
	// SecurityProtocol is Kafka's own name for how connections are made:
	// PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol string     `yaml:"security_protocol"`
	TLS              TLSConfig  `yaml:"tls"`
	SASL             SASLConfig `yaml:"sasl"`

	// What Resolve made of TLS and SASL, shared by the copies.
	tls  *tls.Config
	mech sasl.Mechanism
}

// TLSConfig is how brokers are verified, and how scimwatch proves itself
// to them (mTLS): ca_file, cert_file, key_file, server_name.
type TLSConfig = tlsconf.Config

// SASLConfig is who scimwatch authenticates as.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (Azure Event
	// Hubs: PLAIN, username $ConnectionString, the connection string as
	// the password).
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// The password comes from the environment or a file, never from the
	// config file.
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
}

// The security protocols.
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

func (c Client) protocol() string {
	if c.SecurityProtocol == "" {
		return Plaintext
	}
	return c.SecurityProtocol
}

func (c Client) usesTLS() bool  { p := c.protocol(); return p == SSL || p == SASLSSL }
func (c Client) usesSASL() bool { p := c.protocol(); return p == SASLPlaintext || p == SASLSSL }

// DialTimeout bounds connecting to a broker.
const DialTimeout = 10 * time.Second

// Validate reports every broker that is not host:port and every setting
// of TLS and SASL that does not fit the security protocol.
func (c Client) Validate() error {
	var errs []error
	for i, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil || !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("brokers[%d]: %q is not host:port", i, b))
		}
	}
	p := c.protocol()
	if !slices.Contains([]string{Plaintext, SSL, SASLPlaintext, SASLSSL}, p) {
		errs = append(errs, fmt.Errorf("security_protocol: %q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", p))
	}
	t := c.TLS
	if !c.usesTLS() && t != (TLSConfig{}) {
		errs = append(errs, fmt.Errorf("tls: set, but security_protocol %s does not use TLS (SSL or SASL_SSL does)", p))
	}
	if err := t.Validate(); err != nil {
		errs = append(errs, err)
	}
	a := c.SASL
	switch {
	case !c.usesSASL() && a != (SASLConfig{}):
		errs = append(errs, fmt.Errorf("sasl: set, but security_protocol %s does not use SASL (SASL_SSL or SASL_PLAINTEXT does)", p))
	case c.usesSASL():
		if !slices.Contains([]string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, a.Mechanism) {
			errs = append(errs, fmt.Errorf("sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", a.Mechanism))
		}
		if a.Username == "" {
			errs = append(errs, errors.New("sasl.username: required"))
		}
		if (a.PasswordEnv == "") == (a.PasswordFile == "") {
			errs = append(errs, errors.New("sasl: one of password_env or password_file is required (the password is never in the config file)"))
		}
	}
	return errors.Join(errs...)
}

// Resolve reads what TLS and SASL need (the CA bundle, the client
// certificate, the password) once, so that every connection after uses
// them; an error names the setting, never a secret. A client without TLS
// or SASL needs no Resolve.
func (c *Client) Resolve() error {
	if err := c.Validate(); err != nil {
		return err
	}
	c.tls, c.mech = nil, nil
	if c.usesTLS() {
		cfg, err := c.TLS.Load()
		if err != nil {
			return err
		}
		c.tls = cfg
	}
	if c.usesSASL() {
		pw, err := secret.Read("sasl.password", c.SASL.PasswordEnv, c.SASL.PasswordFile)
		if err != nil {
			return err
		}
		switch c.SASL.Mechanism {
		case "PLAIN":
			c.mech = plain.Mechanism{Username: c.SASL.Username, Password: pw}
		case "SCRAM-SHA-256":
			c.mech, err = scram.Mechanism(scram.SHA256, c.SASL.Username, pw)
		case "SCRAM-SHA-512":
			c.mech, err = scram.Mechanism(scram.SHA512, c.SASL.Username, pw)
		}
		if err != nil {
			return fmt.Errorf("sasl: %w", err)
		}
	}
	return nil
}

// Dialer returns the dialer every connection uses.
func (c Client) Dialer() *kafkago.Dialer {
	return &kafkago.Dialer{Timeout: DialTimeout, DualStack: true, TLS: c.tls, SASLMechanism: c.mech}
}

// Transport returns the transport of writers and admin requests.
func (c Client) Transport() *kafkago.Transport {
	d := c.Dialer()
	return &kafkago.Transport{Dial: d.DialFunc, DialTimeout: d.Timeout, TLS: c.tls, SASL: c.mech}
}

// Writer returns a writer to the brokers; topic may be empty (then each
// message names its own). The caller sets batching, balancing and acks.
func (c Client) Writer(topic string) *kafkago.Writer {
	return &kafkago.Writer{Addr: kafkago.TCP(c.Brokers...), Topic: topic, Transport: c.Transport()}
}

// Dial connects to the first broker that answers, for administration
// (creating topics, finding the controller).
func (c Client) Dial(ctx context.Context) (*kafkago.Conn, error) {
	var errs []error
	for _, b := range c.Brokers {
		conn, err := c.Dialer().DialContext(ctx, "tcp", b)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, errors.New("no brokers")
	}
	return nil, fmt.Errorf("no broker answered: %w", errors.Join(errs...))
}

// Reachable reports whether a broker answers a request (readiness, and
// the check at start): TLS and SASL are done by then, and a broker that
// speaks another protocol (a plaintext client on a TLS listener) fails
// within the timeout rather than hanging.
func (c Client) Reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	conn, err := c.Dial(ctx)
	if err != nil {
		return c.hint(err)
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	if _, err := conn.ApiVersions(); err != nil {
		return c.hint(fmt.Errorf("no answer from %s: %w", conn.RemoteAddr(), err))
	}
	return nil
}

// hint adds what a broker that hangs up at once usually means.
func (c Client) hint(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("%w (the broker hung up: does security_protocol %s match its listener?)", err, c.protocol())
	}
	return err
}

// CreateTopics creates topics of partitions each on the cluster's
// controller; an existing topic is left as it is.
func (c Client) CreateTopics(ctx context.Context, partitions int, topics ...string) error {
	tcs := make([]kafkago.TopicConfig, 0, len(topics))
	for _, t := range topics {
		tcs = append(tcs, kafkago.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1})
	}
	return c.createTopics(ctx, tcs...)
}

// CreateCompactedTopic creates a topic of one partition that keeps the
// last record of each key (cleanup.policy=compact): state, not a log. An
// existing topic is left as it is.
func (c Client) CreateCompactedTopic(ctx context.Context, topic string) error {
	return c.createTopics(ctx, kafkago.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}})
}

func (c Client) createTopics(ctx context.Context, tcs ...kafkago.TopicConfig) error {
	conn, err := c.Dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		return err
	}
	cc, err := c.Dialer().DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, fmt.Sprint(ctrl.Port)))
	if err != nil {
		return err
	}
	defer cc.Close()
	err = cc.CreateTopics(tcs...)
	if errors.Is(err, kafkago.TopicAlreadyExists) {
		return nil
	}
	return err
}

// ReaderConfig is how a partition is read.
type ReaderConfig struct {
	// MaxBytes bounds one fetch (default 8 MiB).
	MaxBytes int
	// QueueCapacity is how many fetched records wait (default 1000).
	QueueCapacity int
	// Backoff between the reader's own retries (defaults 100 ms to 1 s).
	BackoffMin, BackoffMax time.Duration
	// ErrorLogger receives the reader's own error messages.
	ErrorLogger func(msg string, args ...any)
}

// PartitionReader returns a reader of one partition of topic, at no
// group: the consumer group (Group) assigns partitions and commits.
func (c Client) PartitionReader(topic string, partition int, rc ReaderConfig) *kafkago.Reader {
	if rc.MaxBytes <= 0 {
		rc.MaxBytes = 8 << 20
	}
	if rc.QueueCapacity <= 0 {
		rc.QueueCapacity = 1000
	}
	if rc.BackoffMin <= 0 {
		rc.BackoffMin = 100 * time.Millisecond
	}
	if rc.BackoffMax < rc.BackoffMin {
		rc.BackoffMax = max(time.Second, rc.BackoffMin)
	}
	cfg := kafkago.ReaderConfig{Brokers: c.Brokers, Dialer: c.Dialer(), Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: rc.MaxBytes, MaxWait: 250 * time.Millisecond, QueueCapacity: rc.QueueCapacity,
		ReadBackoffMin: rc.BackoffMin, ReadBackoffMax: rc.BackoffMax}
	if rc.ErrorLogger != nil {
		cfg.ErrorLogger = kafkago.LoggerFunc(rc.ErrorLogger)
	}
	return kafkago.NewReader(cfg)
}

// Misconfigured reports whether err, from Reachable, comes from a broker
// that was reached but refused or did not understand scimwatch (a wrong
// password, an unknown CA, a plaintext client on a TLS listener), which no
// retry mends, rather than from one that could not be reached (an outage,
// which the consumers ride out).
func Misconfigured(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	return !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "no answer from")
}
