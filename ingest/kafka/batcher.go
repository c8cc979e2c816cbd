package kafka

import (
	"context"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/ingest/clickhouse"
)

// batcher collects items of one generation into batches, writes each with
// one INSERT, then commits the batch's offsets.
type batcher struct {
	in  *Ingester
	gen *kafkago.Generation

	rows    []clickhouse.Row
	dead    []kafkago.Message
	offsets map[string]map[int]int64 // next offset to commit, per topic and partition
	records int
	first   time.Time
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
	b.rows = b.rows[:0]
	b.dead = b.dead[:0]
	b.offsets = map[string]map[int]int64{}
	b.records = 0
}

func (b *batcher) add(it item) {
	b.records++
	b.rows = append(b.rows, it.rows...)
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
// until it succeeds or ctx ends, then commits. It reports false when ctx
// ended first: the batch is abandoned uncommitted.
func (b *batcher) flush(ctx context.Context) bool {
	if b.records == 0 {
		return true
	}
	in := b.in
	if len(b.dead) > 0 {
		bo := in.backoff()
		for {
			err := in.dlq.Write(ctx, b.dead)
			if err == nil {
				break
			}
			in.metrics.kafkaErrors.WithLabelValues("dead_letter").Inc()
			in.logger.Warn("writing dead letters", "count", len(b.dead), "err", err)
			if !bo.wait(ctx) {
				return false
			}
		}
		for _, m := range b.dead {
			in.metrics.deadLettered.WithLabelValues(m.Topic, headerValue(m, hdrReason)).Inc()
		}
	}
	if len(b.rows) > 0 {
		bo := in.backoff()
		for attempt := 1; ; attempt++ {
			start := time.Now()
			err := in.store.Insert(ctx, b.rows, start)
			if err == nil {
				acked := time.Now()
				in.metrics.insertTime.Observe(acked.Sub(start).Seconds())
				in.metrics.batchRows.Observe(float64(len(b.rows)))
				in.metrics.inserted.Add(float64(len(b.rows)))
				for i := range b.rows {
					if ms := b.rows[i].ProducedMs; ms > 0 {
						in.metrics.endToEnd.Observe(float64(acked.UnixMilli()-int64(ms)) / 1000)
					}
				}
				if in.OnInsert != nil {
					in.OnInsert(b.rows, acked)
				}
				break
			}
			in.metrics.chErrors.Inc()
			in.logger.Warn("inserting batch; will retry", "rows", len(b.rows), "attempt", attempt, "err", err)
			if !bo.wait(ctx) {
				in.logger.Warn("batch abandoned uncommitted; it will be re-read", "rows", len(b.rows))
				return false
			}
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
	}
	b.reset()
	return ctx.Err() == nil
}

// rebalanceGrace is how long a batch may take to land after a rebalance
// began: within the group's rebalance timeout, which bounds how long the
// broker waits for members to rejoin.
const rebalanceGrace = rebalanceTimeout * 3 / 4
