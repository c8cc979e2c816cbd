// Package collect runs the collectors: each fetches an identity provider's
// audit log from the vendor's API and produces the records, unchanged, to
// the tenant's Kafka topic, where ingest and detection take over. The
// vendors' packages below it (okta, graph, workspace) say how to fetch;
// this one says what holds for all of them: a record is in Kafka before
// the cursor that covers it moves (the cursors are kept in a Kafka topic
// of their own, written after the records' acknowledgement), a record a
// poll fetches again (an overlap window, a retried page) is not produced
// twice by one process, failures are retried with backoff and reported,
// and every collector has the same metrics and readiness.
package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/kafka"
)

// Record is one audit record as the vendor served it.
type Record struct {
	// ID is the vendor's id of the record (Okta's uuid, Graph's id,
	// Workspace's time and uniqueQualifier): the Kafka key, and how a
	// record fetched again is known.
	ID string
	// Time is the record's event time, for the cursor lag and for how long
	// its id is remembered.
	Time time.Time
	// Raw is the record's JSON, unchanged.
	Raw []byte
}

// recordKeys are how records fetched again are known: each one's id and
// a hash of its bytes, so that only the same record is skipped, never
// another that reuses an id (which ingest and the detector then take as a
// repeat); "" for a record without an id. Computed once a page.
func recordKeys(recs []Record) []string {
	keys := make([]string, len(recs))
	for i := range recs {
		if recs[i].ID != "" {
			keys[i] = recs[i].ID + "\x00" + strconv.FormatUint(xxhash.Sum64(recs[i].Raw), 36)
		}
	}
	return keys
}

// Page is what one request to the vendor returned.
type Page struct {
	Records []Record
	// Cursor, when not nil, is where the next poll starts once Records are
	// in Kafka; nil leaves the cursor where it was (a page in the middle
	// of a window that is only done at its last page).
	Cursor []byte
}

// Stream is one log a collector polls (Okta's System Log, one Graph
// audit log, one Workspace application).
type Stream interface {
	// Name is the stream's name within its collector ("logs",
	// "directoryAudits", "admin").
	Name() string
	// Poll fetches what is new after cursor (nil: the first poll ever)
	// and hands each page to page in order, returning once it has caught
	// up. An error page returns stops the poll with it.
	Poll(ctx context.Context, cursor []byte, page func(Page) error) error
}

// Collector is one tenant's collector of one vendor.
type Collector struct {
	// Name identifies it in metrics, logs and the cursors' keys.
	Name   string
	Vendor string
	Tenant string
	// Topic is where its records go.
	Topic string
	// Interval is how long it waits after catching up before it polls
	// again.
	Interval time.Duration
	// Lag is how far back of the newest time a stream's records are
	// fetched again (its overlap window): ids are remembered that long.
	Lag     time.Duration
	Streams []Stream
}

// Config is the runner's.
type Config struct {
	Client kafka.Client
	// StateTopic keeps the cursors (a compacted topic, one record per
	// stream and cursor move).
	StateTopic string
	// MaxRemembered bounds the record ids each stream remembers to skip
	// what a poll fetches again (default 200,000).
	MaxRemembered int
	// StaleAfter is how long a collector may fail before /readyz says so
	// (default 5 minutes; a refused credential says so at once).
	StaleAfter time.Duration
	// RetryPermanent is how soon a collector whose credentials or rights
	// were refused tries again (default 1 minute).
	RetryPermanent time.Duration
}

// Runner runs collectors until its context ends.
type Runner struct {
	cfg        Config
	collectors []*Collector
	metrics    *Metrics
	log        *slog.Logger
	writer     *kafkago.Writer
	state      *State

	mu     sync.Mutex
	health map[string]*health // by stream key: collector/stream
	pushes map[string]*pushState
	wg     sync.WaitGroup
}

// health is what readiness says of one stream of a collector (a push
// collector has one, "push").
type health struct {
	c            *Collector
	lastOK       time.Time // the last poll that caught up
	failingSince time.Time // zero while polls succeed
	lastErr      error
	refused      error // a credential or right refused: not ready at once
}

// NewRunner returns a runner of collectors; Start starts them.
func NewRunner(cfg Config, collectors []*Collector, m *Metrics, logger *slog.Logger) *Runner {
	if cfg.MaxRemembered <= 0 {
		cfg.MaxRemembered = 200000
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 5 * time.Minute
	}
	if cfg.RetryPermanent <= 0 {
		cfg.RetryPermanent = time.Minute
	}
	w := cfg.Client.Writer("")
	// Synchronous, every replica: the cursor moves once WriteMessages
	// returns.
	w.RequiredAcks = kafkago.RequireAll
	w.Balancer = &kafkago.Hash{}
	w.BatchTimeout = 5 * time.Millisecond
	w.BatchSize = 1000
	w.BatchBytes = 16 << 20
	w.MaxAttempts = 3
	h := map[string]*health{}
	for _, c := range collectors {
		if len(c.Streams) == 0 {
			h[c.Name+"/push"] = &health{c: c}
		}
		for _, s := range c.Streams {
			h[c.Name+"/"+s.Name()] = &health{c: c}
		}
	}
	r := &Runner{cfg: cfg, collectors: collectors, metrics: m, log: logger, writer: w, health: h,
		state: &State{Client: cfg.Client, Topic: cfg.StateTopic}}
	m.setUp(r.up)
	return r
}

// Start loads the cursors and starts every stream's loop. It fails when
// the cursors cannot be read (the state topic cannot be made or read):
// starting over without them would fetch everything again.
func (r *Runner) Start(ctx context.Context) error {
	bo := &kafka.Backoff{Initial: 200 * time.Millisecond, Max: 10 * time.Second}
	var cursors map[string][]byte
	for {
		var err error
		if cursors, err = r.state.Load(ctx); err == nil {
			break
		}
		r.log.Warn("reading the collectors' cursors; will retry", "topic", r.cfg.StateTopic, "err", err)
		if !bo.Wait(ctx) {
			return ctx.Err()
		}
	}
	for _, c := range r.collectors {
		for _, s := range c.Streams {
			key := c.Name + "/" + s.Name()
			sl := &streamLoop{r: r, c: c, s: s, key: key, cursor: cursors[key],
				sent:   newRemembered(r.cfg.MaxRemembered),
				labels: r.metrics.stream(c, s.Name()), log: r.log.With("collector", c.Name, "stream", s.Name())}
			r.wg.Add(1)
			go func() { defer r.wg.Done(); sl.run(ctx) }()
		}
	}
	return nil
}

// Wait waits for the loops to end (after ctx ends) and closes the writer.
func (r *Runner) Wait() {
	r.wg.Wait()
	_ = r.writer.Close()
	_ = r.state.Close()
}

// Ready says whether every collector is polling: not when a stream's
// credentials or rights were refused, nor when one has failed for longer
// than StaleAfter.
func (r *Runner) Ready(context.Context) error {
	return errors.Join(r.problems(time.Now())...)
}

// problems are the streams not polling, in a stable order.
func (r *Runner) problems(now time.Time) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(r.health)) {
		if err := r.health[key].problem(now, r.cfg.StaleAfter); err != nil {
			errs = append(errs, fmt.Errorf("collector %s: %w", key, err))
		}
	}
	return errs
}

func (h *health) problem(now time.Time, staleAfter time.Duration) error {
	switch {
	case h.refused != nil:
		return h.refused
	case !h.failingSince.IsZero() && now.Sub(h.failingSince) > staleAfter:
		return fmt.Errorf("failing for %s: %w", now.Sub(h.failingSince).Round(time.Second), h.lastErr)
	}
	return nil
}

// up is scimwatch_collector_up, computed when scraped: 0 for a collector
// one of whose streams is not polling.
func (r *Runner) up() map[[3]string]float64 {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[[3]string]float64{}
	for _, h := range r.health {
		k := [3]string{h.c.Name, h.c.Vendor, h.c.Tenant}
		if _, seen := out[k]; !seen {
			out[k] = 1
		}
		if h.problem(now, r.cfg.StaleAfter) != nil {
			out[k] = 0
		}
	}
	return out
}

// report records how a stream's poll (or push) went.
func (r *Runner) report(key string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.health[key]
	if h == nil {
		return
	}
	now := time.Now()
	if err == nil {
		h.lastOK, h.failingSince, h.lastErr, h.refused = now, time.Time{}, nil, nil
		return
	}
	if h.failingSince.IsZero() {
		h.failingSince = now
	}
	h.lastErr = err
	if IsRefused(err) {
		h.refused = err
	}
}

// streamLoop polls one stream.
type streamLoop struct {
	r      *Runner
	c      *Collector
	s      Stream
	key    string
	cursor []byte
	sent   *remembered
	labels streamMetrics
	log    *slog.Logger
}

func (l *streamLoop) run(ctx context.Context) {
	bo := &kafka.Backoff{Initial: time.Second, Max: time.Minute}
	for ctx.Err() == nil {
		err := l.s.Poll(ctx, l.cursor, func(p Page) error { return l.page(ctx, p) })
		if ctx.Err() != nil {
			return
		}
		l.r.report(l.key, err)
		wait := l.c.Interval
		switch {
		case err == nil:
			bo.Reset()
		case IsRefused(err):
			l.log.Error("collector refused by the vendor: fix its credentials or rights; retrying", "err", err, "retry_in", l.r.cfg.RetryPermanent)
			wait = l.r.cfg.RetryPermanent
		default:
			l.log.Warn("collector poll failed; will retry", "err", err)
			if !bo.Wait(ctx) {
				return
			}
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// page produces a page's records not produced before and, once Kafka
// acknowledged them, moves the cursor.
func (l *streamLoop) page(ctx context.Context, p Page) error {
	l.labels.pages.Inc()
	msgs := make([]kafkago.Message, 0, len(p.Records))
	keys := recordKeys(p.Records)
	var newest time.Time
	for i, rec := range p.Records {
		if rec.Time.After(newest) {
			newest = rec.Time
		}
		if keys[i] != "" && l.sent.has(keys[i]) {
			l.labels.refetched.Inc()
			continue
		}
		msgs = append(msgs, kafkago.Message{Topic: l.c.Topic, Key: []byte(rec.ID), Value: rec.Raw,
			Headers: []kafkago.Header{{Key: "scimwatch-collector", Value: []byte(l.c.Name)}}})
	}
	if len(msgs) > 0 {
		bo := &kafka.Backoff{Initial: 200 * time.Millisecond, Max: 10 * time.Second}
		for failed := false; ; failed = true {
			err := l.r.writer.WriteMessages(ctx, msgs...)
			if err == nil {
				if failed {
					l.r.report(l.key, nil)
				}
				break
			}
			// Kafka down: the poll waits here, and /readyz says so once
			// it has lasted stale_after.
			l.r.report(l.key, fmt.Errorf("producing to Kafka: %w", err))
			l.labels.produceErrors.Inc()
			l.log.Warn("producing collected records to Kafka; will retry", "topic", l.c.Topic, "records", len(msgs), "err", err)
			if !bo.Wait(ctx) {
				return ctx.Err()
			}
		}
		l.labels.records.Add(float64(len(msgs)))
	}
	now := time.Now()
	for i, rec := range p.Records {
		if keys[i] != "" {
			l.sent.add(keys[i], orNow(rec.Time, now))
		}
	}
	if !newest.IsZero() {
		l.labels.newest(newest)
		l.sent.forgetBefore(newest.Add(-l.c.Lag - time.Hour))
	}
	l.labels.remembered.Set(float64(l.sent.len()))
	if p.Cursor == nil {
		return nil
	}
	bo := &kafka.Backoff{Initial: 200 * time.Millisecond, Max: 10 * time.Second}
	for {
		err := l.r.state.Save(ctx, l.key, p.Cursor)
		if err == nil {
			break
		}
		// The records are in Kafka: a crash now fetches them again, which
		// is a repeat, never a loss.
		l.r.report(l.key, fmt.Errorf("saving the cursor to Kafka (%s): %w", l.r.cfg.StateTopic, err))
		l.log.Warn("saving the collector's cursor; will retry", "err", err)
		if !bo.Wait(ctx) {
			return ctx.Err()
		}
	}
	l.cursor = p.Cursor
	return nil
}

// Produce writes records a vendor pushed (Okta's Event Hooks) to c's
// topic, once: the caller answers the vendor with the error, and the
// vendor delivers again. Records produced lately by c are skipped.
func (r *Runner) Produce(ctx context.Context, c *Collector, recs []Record) error {
	sm := r.pushed(c)
	msgs := make([]kafkago.Message, 0, len(recs))
	keys := recordKeys(recs)
	sm.mu.Lock()
	for i, rec := range recs {
		if keys[i] != "" && sm.sent.has(keys[i]) {
			sm.m.refetched.Inc()
			continue
		}
		msgs = append(msgs, kafkago.Message{Topic: c.Topic, Key: []byte(rec.ID), Value: rec.Raw,
			Headers: []kafkago.Header{{Key: "scimwatch-collector", Value: []byte(c.Name)}}})
	}
	sm.mu.Unlock()
	sm.m.pages.Inc()
	if len(msgs) > 0 {
		if err := r.writer.WriteMessages(ctx, msgs...); err != nil {
			sm.m.produceErrors.Inc()
			return err
		}
	}
	sm.m.records.Add(float64(len(msgs)))
	sm.mu.Lock()
	defer sm.mu.Unlock()
	var newest time.Time
	now := time.Now()
	for i, rec := range recs {
		if keys[i] != "" {
			sm.sent.add(keys[i], orNow(rec.Time, now))
		}
		if rec.Time.After(newest) {
			newest = rec.Time
		}
	}
	if !newest.IsZero() {
		sm.m.newest(newest)
		sm.sent.forgetBefore(newest.Add(-c.Lag - time.Hour))
	}
	sm.m.remembered.Set(float64(sm.sent.len()))
	r.report(c.Name+"/push", nil)
	return nil
}

// pushState is a push collector's: what it produced lately, its series.
type pushState struct {
	mu   sync.Mutex
	sent *remembered
	m    streamMetrics
}

func (r *Runner) pushed(c *Collector) *pushState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pushes == nil {
		r.pushes = map[string]*pushState{}
	}
	p := r.pushes[c.Name]
	if p == nil {
		p = &pushState{sent: newRemembered(r.cfg.MaxRemembered), m: r.metrics.stream(c, "push")}
		r.pushes[c.Name] = p
	}
	return p
}

// Fetch fetches the records of [from, to) of a window stream, page by
// page, in whatever order the vendor serves them.
type Fetch func(ctx context.Context, from, to time.Time, page func([]Record) error) error

// Window is a stream of a vendor that is queried by event time (Graph's
// audit logs, Workspace's activities), where records arrive late: each
// poll fetches from Lag before where the last one ended to now, so what
// arrived late within Lag is still fetched; what was fetched before is
// skipped by id. The cursor, where the last complete poll ended, moves
// once the whole window is in Kafka.
func Window(name string, lag, start time.Duration, fetch Fetch) Stream {
	return &window{name: name, lag: lag, start: start, fetch: fetch}
}

type window struct {
	name       string
	lag, start time.Duration
	fetch      Fetch
}

type windowCursor struct {
	Until time.Time `json:"until"`
}

func (w *window) Name() string { return w.name }

func (w *window) Poll(ctx context.Context, cur []byte, page func(Page) error) error {
	now := time.Now().UTC().Truncate(time.Second)
	from := now.Add(-w.start)
	var c windowCursor
	if cur != nil && json.Unmarshal(cur, &c) == nil && !c.Until.IsZero() && c.Until.Before(now.Add(time.Hour)) {
		from = c.Until.Add(-w.lag)
	}
	if err := w.fetch(ctx, from, now, func(recs []Record) error { return page(Page{Records: recs}) }); err != nil {
		return err
	}
	b, _ := json.Marshal(windowCursor{Until: now})
	return page(Page{Cursor: b})
}

// orNow is t, or now for a record whose time did not read: remembered as
// fetched now, not forgotten at once.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}
