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
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Client is how scimwatch reaches Kafka: the kafka: section's brokers.
// Every connection scimwatch opens to Kafka is made through it.
type Client struct {
	// Brokers are the bootstrap brokers, host:port. None: scimwatch run
	// starts an embedded in-memory broker.
	Brokers []string `yaml:"brokers"`
}

// DialTimeout bounds connecting to a broker.
const DialTimeout = 10 * time.Second

// Validate reports every broker that is not host:port.
func (c Client) Validate() error {
	var errs []error
	for i, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil || !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("brokers[%d]: %q is not host:port", i, b))
		}
	}
	return errors.Join(errs...)
}

// Dialer returns the dialer every connection uses.
func (c Client) Dialer() *kafkago.Dialer {
	return &kafkago.Dialer{Timeout: DialTimeout, DualStack: true}
}

// Transport returns the transport of writers and admin requests.
func (c Client) Transport() *kafkago.Transport {
	d := c.Dialer()
	return &kafkago.Transport{Dial: d.DialFunc, DialTimeout: d.Timeout}
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

// Reachable reports whether a broker answers (readiness).
func (c Client) Reachable(ctx context.Context) error {
	conn, err := c.Dial(ctx)
	if err != nil {
		return err
	}
	return conn.Close()
}

// CreateTopics creates topics of partitions each on the cluster's
// controller; an existing topic is left as it is.
func (c Client) CreateTopics(ctx context.Context, partitions int, topics ...string) error {
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
	tcs := make([]kafkago.TopicConfig, 0, len(topics))
	for _, t := range topics {
		tcs = append(tcs, kafkago.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1})
	}
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
