// Package eventstore is detection's use of ClickHouse: the stored events the
// rules that learn from history (new_term, baseline) warm from, the
// queries of scheduled rules, when each key of a scheduled rule was last
// reported, and where each detector's stream had got to (its checkpoint).
// The tables are created by the database's migrations
// (storage/clickhouse/migrations/0004_accounts.sql) and work on ClickHouse
// 18.16.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/rules"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Store implements detect.HistorySource, detect.Querier and detect.Reports
// on a migrated ClickHouse store.
type Store struct {
	ch *clickhouse.Store
	db string
}

var (
	_ detect.HistorySource = (*Store)(nil)
	_ detect.Querier       = (*Store)(nil)
	_ detect.Reports       = (*Store)(nil)
)

// New returns a Store on an open ClickHouse store whose migrations are
// applied.
func New(s *clickhouse.Store) *Store { return &Store{ch: s, db: s.Database()} }

// Events implements detect.HistorySource.
func (s *Store) Events(ctx context.Context, from, to time.Time, actions []string, fn func(*event.Event) error) error {
	return s.ch.Events(ctx, from, to, actions, fn)
}

// Tenants implements detect.Querier: the tenants any event names.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	rows, err := s.ch.Conn().Query(ctx, `SELECT DISTINCT tenant FROM `+s.db+`.tenants ORDER BY tenant`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// querySettings are the settings a scheduled query runs with. Integers
// only: 18.16 takes no string settings on the native protocol. Past a
// limit the query fails (overflow mode throw, the default). Each is
// named the same on current releases (TestCurrentClickHouse).
func querySettings(q detect.Query) ch.Settings {
	return ch.Settings{
		"max_execution_time": int(max(1, q.Timeout/time.Second)),
		"max_rows_to_read":   int(q.MaxRowsToRead),
		"readonly":           2,
	}
}

// Query implements detect.Querier. The query runs in the store's database
// (tables unqualified), its params bound by the driver (quoted: user data
// never becomes SQL), under ClickHouse's own limits: max_execution_time
// and max_rows_to_read end it with an error; past MaxRows rows the rest
// are not read and the stats say Truncated.
func (s *Store) Query(ctx context.Context, q detect.Query, fn func(row map[string]any) error) (detect.QueryStats, error) {
	var st detect.QueryStats
	conn, err := s.ch.QueryConn()
	if err != nil {
		return st, err
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, q.Timeout+5*time.Second)
	defer cancel()
	ctx = ch.Context(ctx,
		ch.WithSettings(querySettings(q)),
		ch.WithProgress(func(p *ch.Progress) {
			st.RowsRead += p.Rows
			st.BytesRead += p.Bytes
		}))
	args := make([]any, 0, len(q.Params))
	for name, v := range q.Params {
		args = append(args, ch.Named(name, v))
	}
	// Checked again as it runs, whatever loaded it: scimwatch's tables
	// only, each scoped to the tenant the query runs for.
	sql, err := rules.TenantScoped(q.SQL, s.db)
	if err != nil {
		return st, fmt.Errorf("query refused: %w", err)
	}
	if _, ok := q.Params["tenant"].(string); !ok {
		return st, errors.New("query refused: no tenant to scope it to")
	}
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		st.Elapsed = time.Since(start)
		return st, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols := rows.Columns()
	types := rows.ColumnTypes()
	ptrs := make([]any, len(cols))
	for rows.Next() {
		if st.Rows >= q.MaxRows {
			st.Truncated = true
			break
		}
		for i, t := range types {
			ptrs[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return st, err
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c] = reflect.ValueOf(ptrs[i]).Elem().Interface()
		}
		st.Rows++
		if err := fn(row); err != nil {
			return st, err
		}
	}
	st.Elapsed = time.Since(start)
	if err := rows.Err(); err != nil && !st.Truncated {
		return st, fmt.Errorf("query: %w", err)
	}
	return st, nil
}

// LastReported implements detect.Reports.
func (s *Store) LastReported(ctx context.Context, rule string, since time.Time) (map[string]time.Time, error) {
	rows, err := s.ch.Conn().Query(ctx, `SELECT tenant, key, max(reported_ms) FROM `+s.db+`.scheduled_reports
		WHERE rule = ? AND reported_ms >= ? GROUP BY tenant, key`, rule, uint64(since.UnixMilli()))
	if err != nil {
		return nil, fmt.Errorf("reading scheduled_reports: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var tenant, key string
		var ms uint64
		if err := rows.Scan(&tenant, &key, &ms); err != nil {
			return nil, err
		}
		out[tenant+"\x00"+key] = time.UnixMilli(int64(ms)).UTC()
	}
	return out, rows.Err()
}

// Reported implements detect.Reports, in one insert.
func (s *Store) Reported(ctx context.Context, rule, tenant string, keys []string, at time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	b, err := s.ch.Conn().PrepareBatch(ctx, "INSERT INTO "+s.db+".scheduled_reports (rule, tenant, key, reported_ms)")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Append(rule, tenant, k, uint64(at.UnixMilli())); err != nil {
			_ = b.Abort()
			return err
		}
	}
	return b.Send()
}

// Checkpoint returns where the detector name's stream had got to; ok is
// false if it never saved one.
func (s *Store) Checkpoint(ctx context.Context, name string) (t time.Time, ok bool, err error) {
	rows, err := s.ch.Conn().Query(ctx, `SELECT progress_ms FROM `+s.db+`.detect_checkpoints WHERE name = ? ORDER BY updated_ns DESC LIMIT 1`, name)
	if err != nil {
		return t, false, fmt.Errorf("reading detect_checkpoints: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var ms uint64
		if err := rows.Scan(&ms); err != nil {
			return t, false, err
		}
		return time.UnixMilli(int64(ms)).UTC(), true, nil
	}
	return t, false, rows.Err()
}

// SaveCheckpoint records where the detector name's stream has got to.
func (s *Store) SaveCheckpoint(ctx context.Context, name string, progress time.Time) error {
	b, err := s.ch.Conn().PrepareBatch(ctx, "INSERT INTO "+s.db+".detect_checkpoints (name, progress_ms, updated_ns)")
	if err != nil {
		return err
	}
	if err := b.Append(name, uint64(progress.UnixMilli()), uint64(time.Now().UnixNano())); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}
