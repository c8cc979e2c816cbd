// Package alertstore is alerting's durable store in ClickHouse: the alerts
// table (each alert's latest state), alert_changes (every state it went
// through: status changes with who and when, new counts), notifications (what each integration delivered, and
// where) and silences. The tables are created by the database's
// migrations (storage/clickhouse/migrations/0003_alerts.sql) and work on
// ClickHouse 18.16.
package alertstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/scimwatch/scimwatch/alerting"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Store is the ClickHouse alerting.Store. Alerts and deliveries go through
// Buffer tables, which gather their small inserts (see the migration), and
// are read back through them: the latest version of each.
type Store struct {
	conn driver.Conn
	db   string
	last atomic.Int64 // the last updated_ns written: strictly increasing
}

var _ alerting.Store = (*Store)(nil)

// New returns a Store on an open ClickHouse store, whose migrations must
// be applied.
func New(ch *clickhouse.Store) *Store { return &Store{conn: ch.Conn(), db: ch.Database()} }

func ms(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMilli())
}

func fromMS(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(v)).UTC()
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// SaveAlerts implements alerting.Store with one insert: the server writes
// each state into alert_changes too (a materialized view), so that the
// history has every status change, with who made it, and every new count.
func (s *Store) SaveAlerts(ctx context.Context, alerts []alerting.Alert, _ []alerting.Change) error {
	if len(alerts) > 0 {
		b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+`.alerts_buffer (tenant, id, rule, severity, key, group_key, group_id, status, status_by,
			status_comment, status_at_ms, first, first_ms, last_ms, count, events, title, summary, description, runbook, tags, actor,
			targets, resolved, oneshot, false_positive, observed_ms, version)`)
		if err != nil {
			return fmt.Errorf("preparing the alerts insert: %w", err)
		}
		for _, a := range alerts {
			if err := b.Append(a.Tenant, a.ID, a.Rule, a.Severity, a.Key, a.GroupKey, a.GroupID, a.Status, a.StatusBy, a.StatusComment, ms(a.StatusAt),
				a.First.UTC().Truncate(time.Second), ms(a.First), ms(a.Last), uint64(a.Count), nonNil(a.Events), a.Title, a.Summary, a.Description,
				a.Runbook, nonNil(a.Tags), a.Actor, nonNil(a.Targets), b2u(a.Resolved), b2u(a.OneShot), b2u(a.Status == alerting.StatusFalsePositive),
				ms(a.Observed), a.Version); err != nil {
				_ = b.Abort()
				return err
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("inserting %d alerts: %w", len(alerts), err)
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// LoadAlerts implements alerting.Store.
func (s *Store) LoadAlerts(ctx context.Context, since time.Time) ([]alerting.Alert, error) {
	rows, err := s.conn.Query(ctx, `SELECT tenant, id, rule, severity, key, group_key, group_id, status, status_by, status_comment, status_at_ms,
		first_ms, last_ms, count, events, title, summary, description, runbook, tags, actor, targets, resolved, oneshot, observed_ms, version
		FROM `+s.db+`.alerts_buffer WHERE last_ms >= ? OR status_at_ms >= ? ORDER BY version DESC LIMIT 1 BY tenant, id`, ms(since), ms(since))
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	defer rows.Close()
	var out []alerting.Alert
	for rows.Next() {
		var a alerting.Alert
		var statusAt, first, last, count, observed uint64
		var resolved, oneshot uint8
		if err := rows.Scan(&a.Tenant, &a.ID, &a.Rule, &a.Severity, &a.Key, &a.GroupKey, &a.GroupID, &a.Status, &a.StatusBy, &a.StatusComment, &statusAt,
			&first, &last, &count, &a.Events, &a.Title, &a.Summary, &a.Description, &a.Runbook, &a.Tags, &a.Actor, &a.Targets, &resolved,
			&oneshot, &observed, &a.Version); err != nil {
			return nil, err
		}
		a.StatusAt, a.First, a.Last, a.Observed = fromMS(statusAt), fromMS(first), fromMS(last), fromMS(observed)
		a.Count, a.Resolved, a.OneShot = int(count), resolved == 1, oneshot == 1
		out = append(out, a)
	}
	return out, rows.Err()
}

// SaveDelivery implements alerting.Store.
func (s *Store) SaveDelivery(ctx context.Context, d alerting.Delivery) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".notifications_buffer (receiver, group_id, version, ref, pending_ms, sent_ms, shown, updated_ns)")
	if err != nil {
		return fmt.Errorf("preparing the notification log insert: %w", err)
	}
	if err := b.Append(d.Receiver, d.GroupID, d.Version, d.Ref, ms(d.Pending), ms(d.Sent), d.Shown, s.stamp()); err != nil {
		_ = b.Abort()
		return err
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("writing the notification log: %w", err)
	}
	return nil
}

// stamp returns a strictly increasing nanosecond time, so that the latest
// record of a notification always wins.
func (s *Store) stamp() uint64 {
	for {
		now, last := time.Now().UnixNano(), s.last.Load()
		if now <= last {
			now = last + 1
		}
		if s.last.CompareAndSwap(last, now) {
			return uint64(now)
		}
	}
}

// LoadDeliveries implements alerting.Store.
func (s *Store) LoadDeliveries(ctx context.Context, since time.Time) ([]alerting.Delivery, error) {
	rows, err := s.conn.Query(ctx, `SELECT receiver, group_id, version, ref, pending_ms, sent_ms, shown FROM `+s.db+`.notifications_buffer
		WHERE updated_ns >= ? ORDER BY updated_ns DESC LIMIT 1 BY receiver, group_id`, uint64(since.UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("reading the notification log: %w", err)
	}
	defer rows.Close()
	var out []alerting.Delivery
	for rows.Next() {
		var d alerting.Delivery
		var pending, sent uint64
		if err := rows.Scan(&d.Receiver, &d.GroupID, &d.Version, &d.Ref, &pending, &sent, &d.Shown); err != nil {
			return nil, err
		}
		d.Pending, d.Sent = fromMS(pending), fromMS(sent)
		out = append(out, d)
	}
	return out, rows.Err()
}

// SaveSilence implements alerting.Store.
func (s *Store) SaveSilence(ctx context.Context, sl alerting.Silence) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".silences (id, matcher_labels, matcher_patterns, starts_ms, ends_ms, author, comment, created_ms, version, broad)")
	if err != nil {
		return fmt.Errorf("preparing the silence insert: %w", err)
	}
	var labels, patterns []string
	for _, l := range slices.Sorted(maps.Keys(sl.Matchers)) {
		labels, patterns = append(labels, l), append(patterns, sl.Matchers[l])
	}
	if err := b.Append(sl.ID, nonNil(labels), nonNil(patterns), ms(sl.Start), ms(sl.End), sl.Author, sl.Comment, ms(sl.Created), sl.Version, b2u(sl.Broad)); err != nil {
		_ = b.Abort()
		return err
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("storing silence %s: %w", sl.ID, err)
	}
	return nil
}

// LoadSilences implements alerting.Store: the silences not ended more than
// a week ago.
func (s *Store) LoadSilences(ctx context.Context) ([]alerting.Silence, error) {
	rows, err := s.conn.Query(ctx, `SELECT id, matcher_labels, matcher_patterns, starts_ms, ends_ms, author, comment, created_ms, version, broad
		FROM `+s.db+`.silences FINAL WHERE ends_ms >= ? ORDER BY starts_ms`, ms(time.Now().Add(-7*24*time.Hour)))
	if err != nil {
		return nil, fmt.Errorf("reading silences: %w", err)
	}
	defer rows.Close()
	var out []alerting.Silence
	for rows.Next() {
		var sl alerting.Silence
		var labels, patterns []string
		var starts, ends, created uint64
		var broad uint8
		if err := rows.Scan(&sl.ID, &labels, &patterns, &starts, &ends, &sl.Author, &sl.Comment, &created, &sl.Version, &broad); err != nil {
			return nil, err
		}
		sl.Broad = broad == 1
		sl.Matchers = alerting.Matchers{}
		for i := range min(len(labels), len(patterns)) {
			sl.Matchers[labels[i]] = patterns[i]
		}
		sl.Start, sl.End, sl.Created = fromMS(starts), fromMS(ends), fromMS(created)
		out = append(out, sl)
	}
	return out, rows.Err()
}

// FirstRequest implements alerting.Store: the digest is looked up among
// the requests of the last ten minutes, then recorded. Two instances taking
// the same replay in the same instant could both find it new (ClickHouse
// has no unique constraint); one instance, before or after a restart, never.
func (s *Store) FirstRequest(ctx context.Context, digest string, at time.Time) (bool, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.db+".slack_requests WHERE digest = ? AND at_ms >= ?",
		digest, ms(at.Add(-10*time.Minute))).Scan(&n); err != nil {
		return false, fmt.Errorf("looking up a request: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".slack_requests (digest, at_ms)")
	if err != nil {
		return false, err
	}
	if err := b.Append(digest, ms(at)); err != nil {
		_ = b.Abort()
		return false, err
	}
	if err := b.Send(); err != nil {
		return false, fmt.Errorf("recording a request: %w", err)
	}
	return true, nil
}
