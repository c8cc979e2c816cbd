package ingest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/kafka"
)

// Config is ingest's part of scimwatch's config file (service.Config
// embeds it): the kafka:, batch:, retry: and limits: sections. Validate
// reports every problem at once.
type Config struct {
	Kafka KafkaConfig `yaml:"kafka"`
	Batch BatchConfig `yaml:"batch"`
	Retry RetryConfig `yaml:"retry"`
	// Limits bound what one event may carry; past them the excess is cut,
	// counted and marked on the event. Detection and import apply the
	// same.
	Limits source.Limits `yaml:"limits"`
	// ShutdownTimeout bounds how long SIGTERM waits for the current batch to
	// land and commit; past it the batch is left for re-reading. The
	// service sets it from the file's shutdown_timeout.
	ShutdownTimeout time.Duration `yaml:"-"`
}

// KafkaConfig says what to consume.
type KafkaConfig struct {
	// Client is how Kafka is reached: brokers (none: scimwatch run starts
	// an embedded in-process broker, kfake, for trying scimwatch).
	kafka.Client `yaml:",inline"`
	// Group is the consumer group: instances with the same group share the
	// topics' partitions.
	Group  string        `yaml:"group"`
	Topics []TopicConfig `yaml:"topics"`
	// DeadLetterTopic receives records that cannot be normalized or are
	// too large, with headers saying why. Empty logs them to stderr instead.
	DeadLetterTopic string `yaml:"dead_letter_topic"`
	// MaxRecordBytes is the largest record accepted; larger ones are dead
	// letters.
	MaxRecordBytes int `yaml:"max_record_bytes"`
	// DeadLetterMaxBytes is the largest dead letter written: the dead-letter
	// topic's max.message.bytes (the broker's message.max.bytes, 1,048,588
	// by default) less room to spare. A record larger than that goes with
	// the start of its value, its length and SHA-256 in headers.
	DeadLetterMaxBytes int `yaml:"dead_letter_max_bytes"`
	// StartOffset is where a group with no committed offset starts:
	// earliest or latest.
	StartOffset string `yaml:"start_offset"`
}

// TopicConfig is one topic, its records' source and default tenant.
type TopicConfig struct {
	Name   string `yaml:"name"`
	Source string `yaml:"source"`
	Tenant string `yaml:"tenant"`
}

// BatchConfig bounds a ClickHouse insert: a batch is written when it has
// MaxRows events or its first event is MaxWait old.
type BatchConfig struct {
	MaxRows int           `yaml:"max_rows"`
	MaxWait time.Duration `yaml:"max_wait"`
	// Queue is how many fetched records may wait for the batcher; with the
	// batch itself it bounds memory when ClickHouse is slow or down.
	Queue int `yaml:"queue"`
}

// RetryConfig is the capped exponential backoff of failed inserts,
// dead-letter writes and Kafka errors.
type RetryConfig struct {
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
	// StuckAfter is how long a batch may fail to be written before
	// /readyz answers 503 (it is retried all the same).
	StuckAfter time.Duration `yaml:"stuck_after"`
}

// DefaultConfig returns the defaults. 50,000 rows or 1 s per batch: large
// enough that ClickHouse sees few, big inserts (it wants at most about one
// insert per second per table), small enough that an event is stored within
// about a second and a batch of ~1.5 KB events stays under 100 MB.
func DefaultConfig() Config {
	return Config{
		Kafka: KafkaConfig{
			Group:              "scimwatch-ingest",
			MaxRecordBytes:     1 << 20,
			DeadLetterMaxBytes: 1000000,
			StartOffset:        "earliest",
		},
		Batch:           BatchConfig{MaxRows: 50000, MaxWait: time.Second, Queue: 4096},
		Retry:           RetryConfig{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, StuckAfter: 2 * time.Minute},
		Limits:          source.DefaultLimits(),
		ShutdownTimeout: 15 * time.Second,
	}
}

// Validate reports every problem of the config, each with its path.
func (c *Config) Validate() error {
	var errs []error
	add := func(path string, err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				errs = append(errs, fmt.Errorf("%s.%w", path, e))
			}
		} else if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	k := &c.Kafka
	add("kafka", k.Client.Validate())
	if k.Group == "" {
		add("kafka.group", errors.New("required"))
	}
	if len(k.Topics) == 0 {
		add("kafka.topics", errors.New("at least one topic is required"))
	}
	seen := map[string]bool{}
	for i, t := range k.Topics {
		p := fmt.Sprintf("kafka.topics[%d]", i)
		if t.Name == "" {
			add(p+".name", errors.New("required"))
		} else if seen[t.Name] {
			add(p+".name", fmt.Errorf("topic %q is listed twice", t.Name))
		}
		seen[t.Name] = true
		if t.Source != "" && !slices.Contains(source.Sources, t.Source) {
			add(p+".source", fmt.Errorf("unknown source %q (want one of %s)", t.Source, strings.Join(source.Sources, ", ")))
		}
		if t.Name != "" && t.Name == k.DeadLetterTopic {
			add(p+".name", errors.New("is also the dead_letter_topic"))
		}
	}
	if k.MaxRecordBytes <= 0 {
		add("kafka.max_record_bytes", errors.New("must be positive"))
	}
	if k.DeadLetterMaxBytes < minBudget {
		add("kafka.dead_letter_max_bytes", fmt.Errorf("at least %d", minBudget))
	}
	if k.StartOffset != "earliest" && k.StartOffset != "latest" {
		add("kafka.start_offset", fmt.Errorf("%q is not earliest or latest", k.StartOffset))
	}
	add("limits", c.Limits.Validate())
	if c.Batch.MaxRows <= 0 {
		add("batch.max_rows", errors.New("must be positive"))
	}
	if c.Batch.MaxWait <= 0 {
		add("batch.max_wait", errors.New("must be positive"))
	}
	if c.Batch.Queue <= 0 {
		add("batch.queue", errors.New("must be positive"))
	}
	if c.Retry.InitialBackoff <= 0 || c.Retry.MaxBackoff < c.Retry.InitialBackoff {
		add("retry", errors.New("want 0 < initial_backoff <= max_backoff"))
	}
	if c.Retry.StuckAfter <= 0 {
		add("retry.stuck_after", errors.New("must be positive"))
	}
	return errors.Join(errs...)
}
