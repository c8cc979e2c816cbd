package kafka

import (
	"context"
	"fmt"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/ingest/clickhouse"
)

// item is one Kafka record, normalized: its rows, or the dead letter it
// became. Every record read becomes exactly one item, so that the batcher
// knows each partition's offset to commit.
type item struct {
	topic     string
	partition int
	offset    int64
	rows      []clickhouse.Row
	dead      *kafkago.Message
}

// readPartition reads one assigned partition from its committed offset,
// normalizes each record and hands it to the batcher, until the generation
// ends or shutdown begins. A full queue blocks it: fetching stops while
// ClickHouse is slow or down, and memory stays bounded.
func (in *Ingester) readPartition(ctx, gctx context.Context, topic string, pa kafkago.PartitionAssignment, out chan<- item) {
	rctx, cancel := context.WithCancel(gctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()

	part := strconv.Itoa(pa.ID)
	defer in.metrics.lag.DeleteLabelValues(topic, part)
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:        in.cfg.Kafka.Brokers,
		Dialer:         in.dialer,
		Topic:          topic,
		Partition:      pa.ID,
		MinBytes:       1,
		MaxBytes:       8 << 20,
		MaxWait:        250 * time.Millisecond,
		QueueCapacity:  1000,
		ReadBackoffMin: in.cfg.Retry.InitialBackoff,
		ReadBackoffMax: in.cfg.Retry.MaxBackoff,
		ErrorLogger:    kafkago.LoggerFunc(func(msg string, args ...any) { in.logger.Debug("kafka reader", "msg", fmt.Sprintf(msg, args...)) }),
	})
	defer r.Close()
	if err := r.SetOffset(pa.Offset); err != nil {
		in.logger.Error("setting offset", "topic", topic, "partition", pa.ID, "offset", pa.Offset, "err", err)
		return
	}
	tn := in.topics[topic]
	// The partition's metric children, looked up once rather than per record.
	read, lag := in.metrics.read.WithLabelValues(topic), in.metrics.lag.WithLabelValues(topic, part)
	bo := in.backoff()
	for {
		m, err := r.FetchMessage(rctx)
		if err != nil {
			if rctx.Err() != nil {
				return
			}
			in.metrics.kafkaErrors.WithLabelValues("fetch").Inc()
			in.logger.Warn("fetching", "topic", topic, "partition", pa.ID, "err", err)
			if !bo.wait(rctx) {
				return
			}
			continue
		}
		bo.reset()
		read.Inc()
		if m.HighWaterMark > 0 {
			lag.Set(float64(m.HighWaterMark - m.Offset - 1))
		}
		it := in.process(tn, m)
		select {
		case out <- it:
		case <-rctx.Done():
			return
		}
	}
}

// process normalizes one record into an item.
func (in *Ingester) process(tn topicNormalizer, m kafkago.Message) item {
	it := item{topic: m.Topic, partition: m.Partition, offset: m.Offset}
	if len(m.Value) > in.cfg.Kafka.MaxRecordBytes {
		it.dead = deadLetter(m, reasonTooLarge, fmt.Errorf("record of %d bytes exceeds max_record_bytes %d", len(m.Value), in.cfg.Kafka.MaxRecordBytes))
		return it
	}
	evs, err := tn.n.Normalize(nil, m.Value, tn.tenant)
	if err != nil {
		it.dead = deadLetter(m, reasonInvalid, err)
		return it
	}
	tn.normalized.Inc()
	produced := uint64(0)
	if !m.Time.IsZero() {
		produced = uint64(m.Time.UnixMilli())
	}
	it.rows = make([]clickhouse.Row, len(evs))
	for i := range evs {
		it.rows[i] = clickhouse.Row{Event: &evs[i], Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, ProducedMs: produced}
	}
	return it
}
