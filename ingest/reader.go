package ingest

import (
	"context"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// item is one Kafka record, normalized: its rows, or the dead letter it
// became. Every record read becomes exactly one item, so that the batcher
// knows each partition's offset to commit.
type item struct {
	topic     string
	partition int
	offset    int64
	rows      []clickhouse.Row
	msg       kafkago.Message // the record, kept to dead-letter it should ClickHouse refuse its rows
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

	r := in.cfg.Kafka.Client.PartitionReader(topic, pa.ID, kafka.ReaderConfig{BackoffMin: in.cfg.Retry.InitialBackoff, BackoffMax: in.cfg.Retry.MaxBackoff,
		ErrorLogger: func(msg string, args ...any) { in.logger.Debug("kafka reader", "msg", fmt.Sprintf(msg, args...)) }})
	defer r.Close()
	if err := r.SetOffset(pa.Offset); err != nil {
		in.logger.Error("setting offset", "topic", topic, "partition", pa.ID, "offset", pa.Offset, "err", err)
		return
	}
	// Lag is what is not in ClickHouse yet: the partition's end less the
	// offset committed after the last acknowledged insert (the batcher
	// sets it), asked of the broker also while nothing can be written.
	in.lag.Track(topic, pa.ID, pa.Offset)
	defer in.lag.Forget(topic, pa.ID)
	tn := in.topics[topic]
	read := in.metrics.read.WithLabelValues(topic) // looked up once, not per record
	bo := in.backoff()
	onErr := func(err error) {
		in.metrics.kafkaErrors.WithLabelValues("fetch").Inc()
		in.logger.Warn("fetching; will retry", "topic", topic, "partition", pa.ID, "err", err)
	}
	for {
		m, ok := kafka.Fetch(rctx, r, bo, onErr)
		if !ok {
			return
		}
		read.Inc()
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
	if tr := in.cfg.Limits.Apply(evs, kafka.Received(m)); tr.Events > 0 {
		in.metrics.countTrims(m.Topic, tr)
	}
	produced := uint64(0)
	if !m.Time.IsZero() {
		produced = uint64(m.Time.UnixMilli())
	}
	it.msg = m
	it.rows = make([]clickhouse.Row, len(evs))
	for i := range evs {
		it.rows[i] = clickhouse.Row{Event: &evs[i], Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset, ProducedMs: produced}
	}
	return it
}
