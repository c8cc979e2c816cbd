package ingest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// batcher collects items of one generation into batches, writes each with
// one INSERT, then commits the batch's offsets.
type batcher struct {
	in  *Ingester
	gen *kafkago.Generation

	rows    []clickhouse.Row
	spans   []span // the records with rows, in order
	dead    []kafkago.Message
	offsets map[string]map[int]int64 // next offset to commit, per topic and partition
	records int
	first   time.Time
}

// span is one record of the batch: its rows are rows[start:end]. A batch
// ClickHouse refuses is split by records, never inside one.
type span struct {
	start, end int
	msg        kafkago.Message
}

// run batches until the generation ends or shutdown begins. Either way the
// batch in flight, and the records the readers already handed over, land
// and are committed before run returns: on a rebalance within
// rebalanceGrace (the group waits for run before the partitions move, and
// the broker accepts this generation's commits until then), at shutdown
// within ShutdownTimeout. Only what does not land in time is left
// uncommitted, for the partitions' next owners to read again.
func (b *batcher) run(ctx, gctx context.Context, items <-chan item) {
	// work is cancelled rebalanceGrace after the generation ends, or
	// ShutdownTimeout after shutdown begins: retries of the last batch stop
	// there.
	work, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopGen := context.AfterFunc(gctx, func() { time.AfterFunc(rebalanceGrace, cancel) })
	defer stopGen()
	stopShutdown := context.AfterFunc(ctx, func() { time.AfterFunc(b.in.cfg.ShutdownTimeout, cancel) })
	defer stopShutdown()

	b.reset()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if gctx.Err() != nil || ctx.Err() != nil {
			b.land(work, items, gctx.Err() != nil && ctx.Err() == nil)
			return
		}
		select {
		case it := <-items:
			if b.records == 0 {
				b.first = time.Now()
				timer.Reset(b.in.cfg.Batch.MaxWait)
			}
			b.add(it)
			if len(b.rows) >= b.in.cfg.Batch.MaxRows {
				timer.Stop()
				if !b.flush(work) {
					return
				}
			}
		case <-timer.C:
			if !b.flush(work) {
				return
			}
		case <-gctx.Done():
		case <-ctx.Done():
		}
	}
}

// land takes what the readers already handed over, then writes and commits
// the batch.
func (b *batcher) land(work context.Context, items <-chan item, rebalance bool) {
	for drained := false; !drained; {
		select {
		case it := <-items:
			b.add(it)
		default:
			drained = true
		}
	}
	if b.records == 0 {
		return
	}
	if rebalance {
		b.in.logger.Info("generation ended: writing the batch in flight before giving up the partitions", "records", b.records, "events", len(b.rows))
	} else {
		b.in.logger.Info("shutdown: writing the last batch", "records", b.records, "events", len(b.rows))
	}
	b.flush(work)
}

func (b *batcher) reset() {
	clear(b.spans) // the messages they hold
	b.rows, b.spans, b.dead = b.rows[:0], b.spans[:0], b.dead[:0]
	b.offsets = map[string]map[int]int64{}
	b.records = 0
}

func (b *batcher) add(it item) {
	b.records++
	if len(it.rows) > 0 {
		b.spans = append(b.spans, span{start: len(b.rows), end: len(b.rows) + len(it.rows), msg: it.msg})
		b.rows = append(b.rows, it.rows...)
	}
	if it.dead != nil {
		b.dead = append(b.dead, *it.dead)
	}
	p := b.offsets[it.topic]
	if p == nil {
		p = map[int]int64{}
		b.offsets[it.topic] = p
	}
	if it.offset+1 > p[it.partition] {
		p[it.partition] = it.offset + 1
	}
}

// flush writes dead letters, then the rows, retrying each with backoff
// until it succeeds or ctx ends, then commits. A batch ClickHouse refuses
// for what it holds is split until the record that causes it is found,
// and that record becomes a dead letter. It reports false when ctx ended
// first: the batch is abandoned uncommitted.
func (b *batcher) flush(ctx context.Context) bool {
	if b.records == 0 {
		return true
	}
	in := b.in
	if !b.writeDead(ctx, b.dead) {
		return false
	}
	if len(b.spans) > 0 {
		refused, ok := b.insert(ctx, 0, len(b.spans))
		if !ok {
			in.logger.Warn("batch abandoned uncommitted; it will be re-read", "rows", len(b.rows))
			return false
		}
		if !b.writeDead(ctx, refused) {
			return false
		}
	}
	if err := b.gen.CommitOffsets(b.offsets); err != nil {
		// The group moved on without us (the rebalance outlasted its
		// timeout): the partitions' new owners re-read from the last commit,
		// and the events table collapses the rows written twice.
		in.metrics.commits.WithLabelValues("stale").Inc()
		in.logger.Info("offset commit refused after a rebalance; records will be re-read", "err", err)
	} else {
		in.metrics.commits.WithLabelValues("ok").Inc()
		for topic, parts := range b.offsets {
			for p, next := range parts {
				in.lag.Set(topic, p, next)
			}
		}
	}
	in.stall.ok()
	b.reset()
	return ctx.Err() == nil
}

// writeDead writes dead letters, retrying with backoff until they are
// written or ctx ends (false).
func (b *batcher) writeDead(ctx context.Context, msgs []kafkago.Message) bool {
	in := b.in
	bo := in.backoff()
	for len(msgs) > 0 {
		rest, err := in.dlq.Write(ctx, msgs)
		left := make(map[string]bool, len(rest))
		for _, m := range rest {
			left[m.Topic+"/"+strconv.Itoa(m.Partition)+"/"+strconv.FormatInt(m.Offset, 10)] = true
		}
		for _, m := range msgs {
			if !left[m.Topic+"/"+strconv.Itoa(m.Partition)+"/"+strconv.FormatInt(m.Offset, 10)] {
				in.metrics.deadLettered.WithLabelValues(m.Topic, headerValue(m, hdrReason)).Inc()
			}
		}
		if err == nil {
			return true
		}
		in.metrics.kafkaErrors.WithLabelValues("dead_letter").Inc()
		in.stall.failed(fmt.Sprintf("writing %d dead letters", len(rest)), err)
		if !bo.Wait(ctx) {
			return false
		}
		msgs = rest
	}
	return true
}

// refusalsBeforeDeadLetter is how many times ClickHouse must refuse one
// record alone, with backoff between, before it is dead-lettered.
const refusalsBeforeDeadLetter = 3

// insert writes the rows of spans[lo:hi] with one INSERT, retrying an
// outage with backoff until ctx ends (ok false). When ClickHouse refuses
// the insert for what it holds, it splits it in two and writes each half;
// a record refused alone refusalsBeforeDeadLetter times is returned as a
// dead letter instead.
func (b *batcher) insert(ctx context.Context, lo, hi int) (refused []kafkago.Message, ok bool) {
	in := b.in
	rows := b.rows[b.spans[lo].start:b.spans[hi-1].end]
	bo := in.backoff()
	refusals := 0
	for {
		start := time.Now()
		err := in.store.Insert(ctx, rows, start)
		if err == nil {
			b.inserted(rows, start)
			return nil, true
		}
		in.metrics.chErrors.Inc()
		if clickhouse.Refused(err) {
			in.metrics.refused.Inc()
			if hi-lo > 1 {
				in.logger.Info("ClickHouse refused an insert for what it holds; splitting it to find the record", "records", hi-lo, "rows", len(rows), "err", err)
				mid := (lo + hi) / 2
				r1, ok := b.insert(ctx, lo, mid)
				if !ok {
					return nil, false
				}
				r2, ok := b.insert(ctx, mid, hi)
				return append(r1, r2...), ok
			}
			if refusals++; refusals >= refusalsBeforeDeadLetter {
				m := b.spans[lo].msg
				in.logger.Warn("ClickHouse refuses a record alone: it goes to the dead letters", "topic", m.Topic, "partition", m.Partition,
					"offset", m.Offset, "events", len(rows), "err", err)
				return []kafkago.Message{*deadLetter(m, reasonRefused, err)}, true
			}
		}
		in.stall.failed(fmt.Sprintf("inserting %d rows", len(rows)), err)
		if !bo.Wait(ctx) {
			return nil, false
		}
	}
}

// inserted records an acknowledged insert.
func (b *batcher) inserted(rows []clickhouse.Row, start time.Time) {
	in := b.in
	acked := time.Now()
	in.metrics.insertTime.Observe(acked.Sub(start).Seconds())
	in.metrics.batchRows.Observe(float64(len(rows)))
	in.metrics.inserted.Add(float64(len(rows)))
	for i := range rows {
		if ms := rows[i].ProducedMs; ms > 0 {
			in.metrics.endToEnd.Observe(float64(acked.UnixMilli()-int64(ms)) / 1000)
		}
	}
	if in.OnInsert != nil {
		in.OnInsert(rows, acked)
	}
}

// rebalanceGrace is how long a batch may take to land after a rebalance
// began: within the group's rebalance timeout, which bounds how long the
// broker waits for members to rejoin.
const rebalanceGrace = kafka.RebalanceTimeout * 3 / 4
