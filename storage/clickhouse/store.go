package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/scimwatch/scimwatch/event"
)

// Store writes events to ClickHouse. It is safe for concurrent use.
type Store struct {
	cfg      Config
	conn     driver.Conn
	trace    *statementLog
	logger   *slog.Logger
	migrated atomic.Bool

	qmu   sync.Mutex
	qconn driver.Conn // QueryConn's
}

// Open connects to ClickHouse. It does not check that the server answers:
// use Ping.
func Open(cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pw, err := cfg.password()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	trace := &statementLog{}
	conn, err := ch.Open(&ch.Options{
		Addr:            cfg.Addrs,
		TLS:             tlsCfg,
		Logger:          slog.New(trace),
		Auth:            ch.Auth{Database: "default", Username: cfg.Username, Password: pw},
		DialTimeout:     cfg.DialTimeout,
		Compression:     compression(cfg.Compression),
		MaxOpenConns:    4,
		ConnMaxLifetime: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{cfg: cfg, conn: conn, trace: trace, logger: logger}, nil
}

// Trace calls fn with every statement the Store's connections send from
// now on, as the server receives it (parameters bound), nil to stop: the
// tests run them on a current ClickHouse too.
func (s *Store) Trace(fn func(sql string)) {
	if fn == nil {
		s.trace.fn.Store(nil)
		return
	}
	s.trace.fn.Store(&fn)
}

// statementLog is the driver's log reduced to the statements it sends,
// for Trace; the rest of it (a warning per connection to 18.16, which the
// driver no longer supports officially) is dropped.
type statementLog struct{ fn atomic.Pointer[func(string)] }

func (h *statementLog) Enabled(_ context.Context, l slog.Level) bool {
	return l == slog.LevelDebug && h.fn.Load() != nil
}

func (h *statementLog) Handle(_ context.Context, r slog.Record) error {
	fn := h.fn.Load()
	if fn == nil || r.Message != "sending query" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "query" {
			(*fn)(a.Value.String())
			return false
		}
		return true
	})
	return nil
}

func (h *statementLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *statementLog) WithGroup(string) slog.Handler      { return h }

func compression(name string) *ch.Compression {
	if name == "lz4" {
		return &ch.Compression{Method: ch.CompressionLZ4}
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	s.qmu.Lock()
	if s.qconn != nil {
		_ = s.qconn.Close()
		s.qconn = nil
	}
	s.qmu.Unlock()
	return s.conn.Close()
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// Migrated reports whether Migrate succeeded on this Store.
func (s *Store) Migrated() bool { return s.migrated.Load() }

// Database is the database the Store writes to.
func (s *Store) Database() string { return s.cfg.Database }

// Conn exposes the connection, for queries of other components and tests.
func (s *Store) Conn() driver.Conn { return s.conn }

// Row is one event and where it came from.
type Row struct {
	Event      *event.Event
	Topic      string
	Partition  int32
	Offset     int64
	ProducedMs uint64 // Kafka message timestamp, ms since the epoch
}

// Columns of the events table that Insert writes, in order: those of the
// first schema, then those added since (0009, 0012).
const (
	firstColumns = `tenant, id, time, time_ms, source, raw_type, action, outcome, reason,
	actor_id, actor_type, actor_name, actor_email, actor_ip, actor_user_agent,
	target_ids, target_types, target_names, target_emails, change_fields, change_olds, change_news,
	correlation_id, raw, kafka_topic, kafka_partition, kafka_offset, produced_ms, ingested_ms`
	insertColumns = firstColumns + `,
	trimmed_targets, trimmed_changes, trimmed_strings, trimmed_time, trimmed_unread`
)

// Insert writes rows in one INSERT. ingested is recorded as ingested_ms.
func (s *Store) Insert(ctx context.Context, rows []Row, ingested time.Time) error {
	return s.insert(ctx, rows, ingested, insertColumns)
}

// insert writes rows into cols, a prefix of insertColumns.
func (s *Store) insert(ctx context.Context, rows []Row, ingested time.Time, cols string) error {
	if len(rows) == 0 {
		return nil
	}
	ncols := strings.Count(cols, ",") + 1
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.cfg.Database+".events ("+cols+")")
	if err != nil {
		return fmt.Errorf("preparing insert: %w", err)
	}
	defer batch.Abort() //nolint:errcheck // a no-op after Send
	// One INSERT, sent as blocks of blockRows: the driver's column buffers
	// stay small and are reused instead of growing to the whole batch.
	ing := uint64(ingested.UnixMilli())
	c := newColumns(min(len(rows), blockRows))
	for start := 0; start < len(rows); start += blockRows {
		c.reset()
		for i := start; i < min(start+blockRows, len(rows)); i++ {
			c.add(&rows[i], ing)
		}
		for i, col := range c.all()[:ncols] {
			if err := batch.Column(i).Append(col); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
		if start+blockRows < len(rows) {
			if err := batch.Flush(); err != nil {
				return fmt.Errorf("inserting %d rows: %w", len(rows), err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("inserting %d rows: %w", len(rows), err)
	}
	return nil
}

// blockRows is the size of the blocks an insert is sent in.
const blockRows = 4096

// columns holds a batch column by column.
type columns struct {
	tenant, id                                []string
	time                                      []time.Time
	timeMs                                    []uint16
	source, rawType, action, outcome, reason  []string
	actorID, actorType, actorName, actorEmail []string
	actorIP, actorUA                          []string
	tIDs, tTypes, tNames, tEmails             [][]string
	cFields, cOlds, cNews                     [][]string
	correlation, raw, topic                   []string
	partition                                 []int32
	offset                                    []int64
	produced, ingested                        []uint64
	trTargets, trChanges, trStrings, trUnread []uint32
	trTime                                    []string
}

func newColumns(n int) *columns {
	s := func() []string { return make([]string, 0, n) }
	a := func() [][]string { return make([][]string, 0, n) }
	return &columns{
		tenant: s(), id: s(), time: make([]time.Time, 0, n), timeMs: make([]uint16, 0, n),
		source: s(), rawType: s(), action: s(), outcome: s(), reason: s(),
		actorID: s(), actorType: s(), actorName: s(), actorEmail: s(), actorIP: s(), actorUA: s(),
		tIDs: a(), tTypes: a(), tNames: a(), tEmails: a(), cFields: a(), cOlds: a(), cNews: a(),
		correlation: s(), raw: s(), topic: s(),
		partition: make([]int32, 0, n), offset: make([]int64, 0, n),
		produced: make([]uint64, 0, n), ingested: make([]uint64, 0, n),
		trTargets: make([]uint32, 0, n), trChanges: make([]uint32, 0, n), trStrings: make([]uint32, 0, n), trUnread: make([]uint32, 0, n), trTime: s(),
	}
}

func (c *columns) reset() {
	c.tenant, c.id, c.time, c.timeMs = c.tenant[:0], c.id[:0], c.time[:0], c.timeMs[:0]
	c.source, c.rawType, c.action, c.outcome, c.reason = c.source[:0], c.rawType[:0], c.action[:0], c.outcome[:0], c.reason[:0]
	c.actorID, c.actorType, c.actorName, c.actorEmail, c.actorIP, c.actorUA = c.actorID[:0], c.actorType[:0], c.actorName[:0], c.actorEmail[:0], c.actorIP[:0], c.actorUA[:0]
	c.tIDs, c.tTypes, c.tNames, c.tEmails = c.tIDs[:0], c.tTypes[:0], c.tNames[:0], c.tEmails[:0]
	c.cFields, c.cOlds, c.cNews = c.cFields[:0], c.cOlds[:0], c.cNews[:0]
	c.correlation, c.raw, c.topic = c.correlation[:0], c.raw[:0], c.topic[:0]
	c.partition, c.offset, c.produced, c.ingested = c.partition[:0], c.offset[:0], c.produced[:0], c.ingested[:0]
	c.trTargets, c.trChanges, c.trStrings, c.trTime, c.trUnread = c.trTargets[:0], c.trChanges[:0], c.trStrings[:0], c.trTime[:0], c.trUnread[:0]
}

func (c *columns) add(r *Row, ingested uint64) {
	e := r.Event
	t := e.Time.UTC()
	c.tenant = append(c.tenant, e.Tenant)
	c.id = append(c.id, e.ID)
	c.time = append(c.time, t.Truncate(time.Second))
	c.timeMs = append(c.timeMs, uint16(t.Nanosecond()/int(time.Millisecond)))
	c.source = append(c.source, e.Source)
	c.rawType = append(c.rawType, e.RawType)
	c.action = append(c.action, e.Action)
	c.outcome = append(c.outcome, e.Outcome)
	c.reason = append(c.reason, e.Reason)
	c.actorID = append(c.actorID, e.Actor.ID)
	c.actorType = append(c.actorType, e.Actor.Type)
	c.actorName = append(c.actorName, e.Actor.Name)
	c.actorEmail = append(c.actorEmail, e.Actor.Email)
	c.actorIP = append(c.actorIP, e.Actor.IP)
	c.actorUA = append(c.actorUA, e.Actor.UserAgent)
	ids, types, names, emails := make([]string, len(e.Targets)), make([]string, len(e.Targets)), make([]string, len(e.Targets)), make([]string, len(e.Targets))
	for i, tg := range e.Targets {
		ids[i], types[i], names[i], emails[i] = tg.ID, tg.Type, tg.Name, tg.Email
	}
	c.tIDs, c.tTypes, c.tNames, c.tEmails = append(c.tIDs, ids), append(c.tTypes, types), append(c.tNames, names), append(c.tEmails, emails)
	fields, olds, news := make([]string, len(e.Changes)), make([]string, len(e.Changes)), make([]string, len(e.Changes))
	for i, ch := range e.Changes {
		fields[i], olds[i], news[i] = ch.Field, ch.Old, ch.New
	}
	c.cFields, c.cOlds, c.cNews = append(c.cFields, fields), append(c.cOlds, olds), append(c.cNews, news)
	c.correlation = append(c.correlation, e.CorrelationID)
	// Raw aliases the Kafka record, which nothing modifies: no copy.
	c.raw = append(c.raw, unsafe.String(unsafe.SliceData(e.Raw), len(e.Raw)))
	c.topic = append(c.topic, r.Topic)
	c.partition = append(c.partition, r.Partition)
	c.offset = append(c.offset, r.Offset)
	c.produced = append(c.produced, r.ProducedMs)
	c.ingested = append(c.ingested, ingested)
	tr := &e.Trimmed
	c.trTargets = append(c.trTargets, uint32(tr.Targets))
	c.trChanges = append(c.trChanges, uint32(tr.Changes))
	c.trStrings = append(c.trStrings, uint32(tr.Strings))
	c.trUnread = append(c.trUnread, uint32(tr.Unread))
	c.trTime = append(c.trTime, tr.Time)
}

func (c *columns) all() []any {
	return []any{
		c.tenant, c.id, c.time, c.timeMs, c.source, c.rawType, c.action, c.outcome, c.reason,
		c.actorID, c.actorType, c.actorName, c.actorEmail, c.actorIP, c.actorUA,
		c.tIDs, c.tTypes, c.tNames, c.tEmails, c.cFields, c.cOlds, c.cNews,
		c.correlation, c.raw, c.topic, c.partition, c.offset, c.produced, c.ingested,
		c.trTargets, c.trChanges, c.trStrings, c.trTime, c.trUnread,
	}
}
