package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"

	kafkago "github.com/segmentio/kafka-go"
)

// Dead-letter headers: why a record could not be ingested and where it was.
// The record itself stays in its topic, at that offset, until the topic's
// retention removes it.
const (
	hdrError     = "scimwatch-error"
	hdrReason    = "scimwatch-reason" // invalid | too_large | refused
	hdrTopic     = "scimwatch-source-topic"
	hdrPartition = "scimwatch-source-partition"
	hdrOffset    = "scimwatch-source-offset"
	// Set when the dead letter carries only the start of the record's
	// value (the broker would refuse the whole): the value's length and
	// SHA-256, to find the record by.
	hdrTruncated = "scimwatch-truncated-from"
	hdrSHA256    = "scimwatch-value-sha256"
	// Set when the record's own headers were left out, with their count.
	hdrHeadersDropped = "scimwatch-headers-dropped"

	reasonInvalid  = "invalid"
	reasonTooLarge = "too_large"
	// reasonRefused: ClickHouse refused the record's events alone, again
	// and again (a record that costs more memory than a query may use).
	reasonRefused = "refused"
)

// maxErrorText bounds the error a dead letter carries.
const maxErrorText = 1 << 10

// deadLetter makes the dead-letter record of m: its key, value and headers,
// and headers saying why and where from. Write fits it to what the broker
// accepts.
func deadLetter(m kafkago.Message, reason string, err error) *kafkago.Message {
	h := append([]kafkago.Header(nil), m.Headers...)
	h = append(h,
		kafkago.Header{Key: hdrError, Value: []byte(cutUTF8(err.Error(), maxErrorText))},
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

// own reports whether a header is one deadLetter adds.
func own(key string) bool {
	switch key {
	case hdrError, hdrReason, hdrTopic, hdrPartition, hdrOffset, hdrTruncated, hdrSHA256, hdrHeadersDropped:
		return true
	}
	return false
}

// recordOverhead is what a record costs in a batch besides its key, value
// and headers' bytes (varints, attributes, deltas), generously.
const recordOverhead = 64

func size(m *kafkago.Message) int {
	n := recordOverhead + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + 8
	}
	return n
}

// fit returns m cut to at most budget bytes: first the record's own
// headers go (when they take more than a quarter of the budget), then the
// value is cut, with headers saying so. A budget too small for even that
// gives a dead letter of headers only, with no value.
func fit(m kafkago.Message, budget int) kafkago.Message {
	if size(&m) <= budget {
		return m
	}
	var mine, theirs []kafkago.Header
	theirBytes := 0
	for _, h := range m.Headers {
		if own(h.Key) {
			mine = append(mine, h)
		} else {
			theirs = append(theirs, h)
			theirBytes += len(h.Key) + len(h.Value) + 8
		}
	}
	out := kafkago.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key}
	if len(m.Key) > maxErrorText {
		out.Key = m.Key[:maxErrorText]
	}
	if theirBytes <= budget/4 {
		out.Headers = append(theirs, mine...)
	} else {
		out.Headers = append(mine, kafkago.Header{Key: hdrHeadersDropped, Value: []byte(strconv.Itoa(len(theirs)))})
	}
	sum := sha256.Sum256(m.Value)
	out.Headers = append(out.Headers,
		kafkago.Header{Key: hdrTruncated, Value: []byte(strconv.Itoa(len(m.Value)))},
		kafkago.Header{Key: hdrSHA256, Value: []byte(hex.EncodeToString(sum[:]))})
	room := budget - size(&out)
	if room > 0 {
		out.Value = m.Value[:min(room, len(m.Value))]
	}
	return out
}

// cutUTF8 cuts s to at most n bytes at a character boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// deadLetterer writes dead letters. Write returns the letters still to
// write when it fails (an outage: the caller retries them).
type deadLetterer interface {
	Write(ctx context.Context, msgs []kafkago.Message) ([]kafkago.Message, error)
	Close() error
}

func newDeadLetterer(cfg Config, logger *slog.Logger, m *metrics) deadLetterer {
	if cfg.Kafka.DeadLetterTopic == "" {
		return logDeadLetters{logger}
	}
	max := cfg.Kafka.DeadLetterMaxBytes
	w := cfg.Kafka.Client.Writer(cfg.Kafka.DeadLetterTopic)
	w.Balancer, w.RequiredAcks, w.AllowAutoTopicCreation, w.BatchTimeout = &kafkago.Hash{}, kafkago.RequireAll, true, 10*time.Millisecond
	// A batch of dead letters is never larger than one may be, which is
	// what the broker's message.max.bytes bounds.
	w.BatchBytes = int64(max)
	return &topicDeadLetters{max: max, logger: logger, metrics: m, w: w}
}

// topicDeadLetters writes dead letters to the dead-letter topic, each fit
// to max bytes. A letter the broker still refuses for its size is cut to
// half, and so on down to headers only; one refused even then is written
// to the log instead (where the record is and why), never lost from view.
type topicDeadLetters struct {
	w       *kafkago.Writer
	max     int
	logger  *slog.Logger
	metrics *metrics
}

// minBudget is the smallest budget tried: headers only.
const minBudget = 2 << 10

func (t *topicDeadLetters) Write(ctx context.Context, msgs []kafkago.Message) ([]kafkago.Message, error) {
	type letter struct {
		orig   kafkago.Message
		budget int
	}
	pending := make([]letter, len(msgs))
	for i, m := range msgs {
		pending[i] = letter{orig: m, budget: t.max}
	}
	for len(pending) > 0 {
		out := make([]kafkago.Message, len(pending))
		for i, l := range pending {
			f := fit(l.orig, l.budget)
			out[i] = kafkago.Message{Key: f.Key, Value: f.Value, Headers: f.Headers}
		}
		err := t.w.WriteMessages(ctx, out...)
		if err == nil {
			for i, l := range pending {
				t.written(l.orig, out[i])
			}
			return nil, nil
		}
		// Which letters failed, and were they refused for their size?
		var we kafkago.WriteErrors
		var tl kafkago.MessageTooLargeError
		failed := make([]error, len(pending))
		switch {
		case errors.As(err, &we) && len(we) == len(pending):
			copy(failed, we)
		case errors.As(err, &tl):
			for i := range failed {
				if size(&out[i]) >= size(&tl.Message) {
					failed[i] = err
				}
			}
		default:
			for i := range failed {
				failed[i] = err
			}
		}
		var next []letter
		var outage error
		for i, l := range pending {
			switch e := failed[i]; {
			case e == nil:
				t.written(l.orig, out[i])
			case tooLarge(e) && l.budget > minBudget:
				l.budget = max(minBudget, l.budget/2)
				next = append(next, l)
			case tooLarge(e):
				t.logger.Error("dead letter refused by the broker even without its value; logged here instead",
					"topic", l.orig.Topic, "partition", l.orig.Partition, "offset", l.orig.Offset,
					"reason", headerValue(l.orig, hdrReason), "err", headerValue(l.orig, hdrError))
				t.metrics.deadLetterLogged.Inc()
			default:
				outage = e
				next = append(next, l)
			}
		}
		if outage != nil {
			rest := make([]kafkago.Message, len(next))
			for i, l := range next {
				rest[i] = l.orig
			}
			return rest, outage
		}
		pending = next
	}
	return nil, nil
}

// written counts a letter that reached the topic, cut or whole.
func (t *topicDeadLetters) written(orig, sent kafkago.Message) {
	if len(sent.Value) < len(orig.Value) || headerValue(sent, hdrHeadersDropped) != "" {
		t.metrics.deadLetterCut.WithLabelValues(orig.Topic).Inc()
	}
}

// tooLarge reports whether the broker (or the client, before sending)
// refused a write for its size.
func tooLarge(err error) bool {
	return errors.Is(err, kafkago.MessageSizeTooLarge) || errors.Is(err, kafkago.RecordListTooLarge)
}

func (t *topicDeadLetters) Close() error { return t.w.Close() }

// logDeadLetters reports dead letters on the log (stderr) when no
// dead-letter topic is configured: where the record is and why, not its
// content, which may hold personal data.
type logDeadLetters struct{ logger *slog.Logger }

func (l logDeadLetters) Write(_ context.Context, msgs []kafkago.Message) ([]kafkago.Message, error) {
	for _, m := range msgs {
		l.logger.Error("dead letter", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
			"reason", headerValue(m, hdrReason), "err", headerValue(m, hdrError))
	}
	return nil, nil
}

func (logDeadLetters) Close() error { return nil }
