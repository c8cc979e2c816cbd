package kafka

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Dead-letter headers: why a record could not be ingested and where it was.
const (
	hdrError     = "scimwatch-error"
	hdrReason    = "scimwatch-reason" // invalid | too_large
	hdrTopic     = "scimwatch-source-topic"
	hdrPartition = "scimwatch-source-partition"
	hdrOffset    = "scimwatch-source-offset"

	reasonInvalid  = "invalid"
	reasonTooLarge = "too_large"
)

// deadLetter makes the dead-letter record of m: its key and value
// unchanged, its headers kept, and headers saying why and where from.
func deadLetter(m kafkago.Message, reason string, err error) *kafkago.Message {
	h := append([]kafkago.Header(nil), m.Headers...)
	h = append(h,
		kafkago.Header{Key: hdrError, Value: []byte(err.Error())},
		kafkago.Header{Key: hdrReason, Value: []byte(reason)},
		kafkago.Header{Key: hdrTopic, Value: []byte(m.Topic)},
		kafkago.Header{Key: hdrPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafkago.Header{Key: hdrOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	return &kafkago.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Headers: h}
}

func headerValue(m kafkago.Message, key string) string {
	for i := len(m.Headers) - 1; i >= 0; i-- {
		if m.Headers[i].Key == key {
			return string(m.Headers[i].Value)
		}
	}
	return ""
}

// deadLetterer writes dead letters.
type deadLetterer interface {
	Write(ctx context.Context, msgs []kafkago.Message) error
	Close() error
}

func newDeadLetterer(cfg Config, dialer *kafkago.Dialer, logger *slog.Logger) deadLetterer {
	if cfg.Kafka.DeadLetterTopic == "" {
		return logDeadLetters{logger}
	}
	return &topicDeadLetters{w: &kafkago.Writer{
		Addr:                   kafkago.TCP(cfg.Kafka.Brokers...),
		Topic:                  cfg.Kafka.DeadLetterTopic,
		Balancer:               &kafkago.Hash{},
		RequiredAcks:           kafkago.RequireAll,
		AllowAutoTopicCreation: true,
		BatchTimeout:           10 * time.Millisecond,
		BatchBytes:             int64(cfg.Kafka.MaxRecordBytes) + 64<<10,
		Transport:              &kafkago.Transport{Dial: dialer.DialFunc, DialTimeout: dialer.Timeout},
	}}
}

type topicDeadLetters struct{ w *kafkago.Writer }

func (t *topicDeadLetters) Write(ctx context.Context, msgs []kafkago.Message) error {
	out := make([]kafkago.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafkago.Message{Key: m.Key, Value: m.Value, Headers: m.Headers}
	}
	return t.w.WriteMessages(ctx, out...)
}

func (t *topicDeadLetters) Close() error { return t.w.Close() }

// logDeadLetters reports dead letters on the log (stderr) when no
// dead-letter topic is configured: where the record is and why, not its
// content, which may hold personal data.
type logDeadLetters struct{ logger *slog.Logger }

func (l logDeadLetters) Write(_ context.Context, msgs []kafkago.Message) error {
	for _, m := range msgs {
		l.logger.Error("dead letter", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
			"reason", headerValue(m, hdrReason), "err", headerValue(m, hdrError))
	}
	return nil
}

func (logDeadLetters) Close() error { return nil }
