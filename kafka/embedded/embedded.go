// Package embedded is the in-process Kafka broker (kfake) scimwatch run,
// ingest and the demo start when no brokers are configured: a newcomer's
// Kafka, records in memory only. Only the service links it.
package embedded

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is an in-process Kafka broker (kfake) speaking Kafka's
// protocol on 127.0.0.1, for running scimwatch with no broker. It keeps
// records in memory only.
type Broker struct {
	c *kfake.Cluster
}

// Start starts a single-broker cluster that creates topics on
// first use.
func Start() (*Broker, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return &Broker{c: c}, nil
}

// Brokers returns the broker's address.
func (e *Broker) Brokers() []string { return e.c.ListenAddrs() }

// Close stops the broker. It is nil-safe and idempotent.
func (e *Broker) Close() {
	if e != nil && e.c != nil {
		e.c.Close()
		e.c = nil
	}
}
