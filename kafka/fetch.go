package kafka

import (
	"context"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Fetcher is what Fetch reads from: a *kafkago.Reader of one partition.
type Fetcher interface {
	FetchMessage(ctx context.Context) (kafkago.Message, error)
}

// Fetch returns the next record of r. An error (a broker restarting, a
// leader moving, the network) is handed to onErr and the fetch tried
// again after bo's wait, for as long as ctx lives: a transient error never
// stops the reading of a partition. ok is false once ctx ended.
func Fetch(ctx context.Context, r Fetcher, bo *Backoff, onErr func(error)) (m kafkago.Message, ok bool) {
	for {
		m, err := r.FetchMessage(ctx)
		if err == nil {
			bo.Reset()
			return m, true
		}
		if ctx.Err() != nil {
			return m, false
		}
		onErr(err)
		if !bo.Wait(ctx) {
			return m, false
		}
	}
}

// Received is when a record reached Kafka, for the limits' sane range of
// times: its timestamp, or now when the producer set none. Ingest and
// detection read the same record, so they place a mis-dated event alike.
func Received(m kafkago.Message) time.Time {
	if m.Time.IsZero() {
		return time.Now()
	}
	return m.Time
}
