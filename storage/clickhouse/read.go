package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/scimwatch/scimwatch/event"
)

// readColumns are the columns Events reads: the canonical event without
// raw.
const readColumns = `tenant, id, time, time_ms, source, raw_type, action, outcome, reason,
	actor_id, actor_type, actor_name, actor_email, actor_ip, actor_user_agent,
	target_ids, target_types, target_names, target_emails, change_fields, change_olds, change_news, correlation_id,
	trimmed_targets, trimmed_changes, trimmed_strings, trimmed_time, trimmed_unread`

// Events calls fn with each stored event of [from, to) whose action is one
// of actions (any when nil), without its raw, in time order, each once: an
// event stored twice (delivered twice, imported twice) and not yet merged
// is skipped the second time. It reads a day at a time, so that the server
// sorts one day partition at once; the event fn gets is reused after fn
// returns.
func (s *Store) Events(ctx context.Context, from, to time.Time, actions []string, fn func(*event.Event) error) error {
	from, to = from.UTC(), to.UTC()
	var ev event.Event
	var prevTenant, prevID string
	for day := from.Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		lo, hi := maxTime(day, from), minTime(day.Add(24*time.Hour), to)
		if !lo.Before(hi) {
			continue
		}
		q := `SELECT ` + readColumns + ` FROM ` + s.cfg.Database + `.events
			WHERE time >= ? AND time < ? AND toUInt64(time) * 1000 + time_ms >= ? AND toUInt64(time) * 1000 + time_ms < ?`
		args := []any{lo.Truncate(time.Second), hi.Add(time.Second - 1).Truncate(time.Second), uint64(lo.UnixMilli()), uint64(hi.UnixMilli())}
		if actions != nil {
			q += ` AND has(?, action)`
			args = append(args, actions)
		}
		q += ` ORDER BY time, time_ms, tenant, id`
		rows, err := s.conn.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("reading events of %s: %w", day.Format("2006-01-02"), err)
		}
		for rows.Next() {
			if err := scanEvent(rows, &ev); err != nil {
				rows.Close()
				return fmt.Errorf("reading events of %s: %w", day.Format("2006-01-02"), err)
			}
			if ev.ID == prevID && ev.Tenant == prevTenant {
				continue
			}
			prevTenant, prevID = ev.Tenant, ev.ID
			if err := fn(&ev); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("reading events of %s: %w", day.Format("2006-01-02"), err)
		}
	}
	return nil
}

func scanEvent(rows driver.Rows, e *event.Event) error {
	var t time.Time
	var ms uint16
	var tIDs, tTypes, tNames, tEmails, cFields, cOlds, cNews []string
	var trTargets, trChanges, trStrings, trUnread uint32
	if err := rows.Scan(&e.Tenant, &e.ID, &t, &ms, &e.Source, &e.RawType, &e.Action, &e.Outcome, &e.Reason,
		&e.Actor.ID, &e.Actor.Type, &e.Actor.Name, &e.Actor.Email, &e.Actor.IP, &e.Actor.UserAgent,
		&tIDs, &tTypes, &tNames, &tEmails, &cFields, &cOlds, &cNews, &e.CorrelationID,
		&trTargets, &trChanges, &trStrings, &e.Trimmed.Time, &trUnread); err != nil {
		return err
	}
	e.Trimmed.Targets, e.Trimmed.Changes, e.Trimmed.Strings, e.Trimmed.Unread = int(trTargets), int(trChanges), int(trStrings), int(trUnread)
	e.Time = t.UTC().Add(time.Duration(ms) * time.Millisecond)
	e.Targets = e.Targets[:0]
	for i := range tIDs {
		e.Targets = append(e.Targets, event.Target{ID: tIDs[i], Type: at(tTypes, i), Name: at(tNames, i), Email: at(tEmails, i)})
	}
	e.Changes = e.Changes[:0]
	for i := range cFields {
		e.Changes = append(e.Changes, event.Change{Field: cFields[i], Old: at(cOlds, i), New: at(cNews, i)})
	}
	e.Raw = nil
	return nil
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// QueryConn returns a connection whose default database is the Store's,
// for queries that name its tables unqualified (scheduled rules), as
// rules_username when set. It is opened on first use; Close closes it.
func (s *Store) QueryConn() (driver.Conn, error) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.qconn != nil {
		return s.qconn, nil
	}
	user, pw, err := s.cfg.rulesUser()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := s.cfg.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	conn, err := ch.Open(&ch.Options{
		Addr:         s.cfg.Addrs,
		TLS:          tlsCfg,
		Auth:         ch.Auth{Database: s.cfg.Database, Username: user, Password: pw},
		Logger:       slog.New(s.trace),
		DialTimeout:  s.cfg.DialTimeout,
		Compression:  compression(s.cfg.Compression),
		MaxOpenConns: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	s.qconn = conn
	return conn, nil
}
