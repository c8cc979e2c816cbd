package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// RebalanceTimeout is how long the broker waits for a group's members to
// rejoin after a rebalance starts; a member that takes longer (one still
// landing its batch) is dropped from the generation.
const RebalanceTimeout = 10 * time.Second

// Group is one consumer group over topics: it joins, hands each generation
// to the caller and joins again after a rebalance, retrying a group that
// cannot be joined with backoff for as long as its context lives.
type Group struct {
	Client Client
	// ID is the group's id.
	ID     string
	Topics []string
	// StartLatest: a partition the group has no offset for starts at its
	// end (else at its beginning).
	StartLatest bool
	// Backoff between failed joins (defaults 1 s to 30 s).
	Backoff Backoff
	Logger  *slog.Logger
	// OnJoinError is called for each failed join (a metric).
	OnJoinError func(error)

	joined atomic.Bool
}

// Joined reports whether the group is in a generation (readiness).
func (g *Group) Joined() bool { return g.joined.Load() }

// Run joins the group and calls generation with each generation, until
// ctx ends. generation returns when the generation is over (a rebalance)
// or ctx ended.
func (g *Group) Run(ctx context.Context, generation func(ctx context.Context, gen *kafkago.Generation)) error {
	logger := g.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if g.ID == "" || len(g.Client.Brokers) == 0 || len(g.Topics) == 0 {
		return errors.New("kafka: a group needs brokers, an id and topics")
	}
	start := kafkago.FirstOffset
	if g.StartLatest {
		start = kafkago.LastOffset
	}
	group, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID: g.ID, Brokers: g.Client.Brokers, Dialer: g.Client.Dialer(), Topics: g.Topics, StartOffset: start,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, RebalanceTimeout: RebalanceTimeout,
		JoinGroupBackoff: time.Second, Timeout: 10 * time.Second,
		Logger:      kafkago.LoggerFunc(func(string, ...any) {}),
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) { logger.Debug("kafka group", "msg", fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("kafka: consumer group %s: %w", g.ID, err)
	}
	defer group.Close()
	defer g.joined.Store(false)
	bo := g.Backoff
	if bo.Initial <= 0 {
		bo = Backoff{Initial: time.Second, Max: 30 * time.Second}
	}
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			g.joined.Store(false)
			if g.OnJoinError != nil {
				g.OnJoinError(err)
			}
			logger.Warn("joining consumer group; will retry", "group", g.ID, "err", err)
			if !bo.Wait(ctx) {
				return nil
			}
			continue
		}
		bo.Reset()
		g.joined.Store(true)
		logger.Info("consumer group generation", "group", g.ID, "generation", gen.ID, "assignments", Assignments(gen.Assignments))
		generation(ctx, gen)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Assignments says which partitions of which topics a generation holds,
// for logs: "audit:0,1 okta:2".
func Assignments(a map[string][]kafkago.PartitionAssignment) string {
	topics := make([]string, 0, len(a))
	for t := range a {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t + ":")
		for j, p := range a[t] {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, p.ID)
		}
	}
	return b.String()
}

// Offsets are the next offsets a generation's readers have processed, by
// topic and partition, for committing to the group as reading goes (the
// detector's way; ingest commits what ClickHouse acknowledged).
type Offsets struct {
	mu   sync.Mutex
	next map[string]map[int]int64
}

// Mark records that every offset of the partition before next was
// processed.
func (o *Offsets) Mark(topic string, partition int, next int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.next == nil {
		o.next = map[string]map[int]int64{}
	}
	if o.next[topic] == nil {
		o.next[topic] = map[int]int64{}
	}
	o.next[topic][partition] = next
}

// Commit commits what was marked to gen's group; nothing marked, nothing
// sent.
func (o *Offsets) Commit(gen *kafkago.Generation) error {
	o.mu.Lock()
	offs := make(map[string]map[int]int64, len(o.next))
	for t, ps := range o.next {
		offs[t] = make(map[int]int64, len(ps))
		for p, n := range ps {
			offs[t][p] = n
		}
	}
	o.mu.Unlock()
	if len(offs) == 0 {
		return nil
	}
	return gen.CommitOffsets(offs)
}
