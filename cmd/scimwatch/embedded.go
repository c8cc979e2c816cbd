package main

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedKafka is an in-process Kafka broker (kfake) speaking Kafka's
// protocol on 127.0.0.1, for running scimwatch with no broker. It keeps
// records in memory only.
type EmbeddedKafka struct {
	c *kfake.Cluster
}

// StartEmbeddedKafka starts a single-broker cluster that creates topics on
// first use.
func StartEmbeddedKafka() (*EmbeddedKafka, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return &EmbeddedKafka{c: c}, nil
}

// Brokers returns the broker's address.
func (e *EmbeddedKafka) Brokers() []string { return e.c.ListenAddrs() }

// Close stops the broker. It is nil-safe and idempotent.
func (e *EmbeddedKafka) Close() {
	if e != nil && e.c != nil {
		e.c.Close()
		e.c = nil
	}
}
