package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The expressions the roll-ups group by, shared with the dashboards' panels
// so that a day read from a roll-up and a day read from events agree.
const (
	// PrivilegeChange is true for role and group membership changes.
	PrivilegeChange = `action IN ('role.grant', 'role.revoke', 'group.member.add', 'group.member.remove')`
	// ActorExpr names an event's actor: its email, else its id.
	ActorExpr = `if(actor_email != '', actor_email, actor_id)`
	// TargetsJoin is an ARRAY JOIN clause giving each target of an event as
	// target (its email, else its name, else its id) and target_type.
	TargetsJoin = `ARRAY JOIN arrayMap((tid, tname, temail) -> if(temail != '', temail, if(tname != '', tname, tid)), target_ids, target_names, target_emails) AS target, target_types AS target_type`
	// AppExpr names the app a failure is about: its app target, else the
	// SCIM client acting, else the source.
	AppExpr = `if(has(target_types, 'app'), target_names[indexOf(target_types, 'app')], if(actor_type = 'app', actor_id, source))`
)

// rollups are the roll-up tables and the query filling each for one day
// partition ({db} and {part} substituted).
var rollups = []struct{ table, fill string }{
	{"events_hourly", `SELECT toDate(time) AS day, toStartOfHour(time) AS hour, tenant, source, action, outcome, count() AS events
FROM {db}.events FINAL WHERE toYYYYMMDD(time) = {part}
GROUP BY day, hour, tenant, source, action, outcome`},
	{"actors_daily", `SELECT toDate(time) AS day, tenant, ` + ActorExpr + ` AS actor, actor_type, count() AS events, countIf(` + PrivilegeChange + `) AS privilege_changes
FROM {db}.events FINAL WHERE toYYYYMMDD(time) = {part} AND actor_id != '' AND action != 'user.login'
GROUP BY day, tenant, actor, actor_type`},
	{"targets_daily", `SELECT toDate(time) AS day, tenant, target, count() AS events
FROM {db}.events FINAL ` + TargetsJoin + `
WHERE toYYYYMMDD(time) = {part} AND target_type = 'user' AND target != ''
GROUP BY day, tenant, target`},
	{"failures_daily", `SELECT toDate(time) AS day, tenant, ` + AppExpr + ` AS app, count() AS failures
FROM {db}.events FINAL WHERE toYYYYMMDD(time) = {part} AND outcome = 'failure'
GROUP BY day, tenant, app`},
}

// RollupStats says what one Rollup did.
type RollupStats struct {
	// Rolled are the day partitions rolled up (again), Dropped those whose
	// events partition is gone (retention), Current those already current.
	Rolled, Dropped []string
	Current         int
}

// Rollup brings the dashboards' roll-ups up to date: each day partition of
// events before the day of before (the server's days, as the partitions
// are) whose active parts changed since it was last rolled up (an insert, a
// merge) is rolled up again from events FINAL, and the roll-ups of days
// whose events partition was dropped are dropped. A dashboard reads a day
// from the roll-ups only while its fingerprint is current, so calling this
// late or not at all only makes the dashboards slower, never wrong.
func (s *Store) Rollup(ctx context.Context, before time.Time) (RollupStats, error) {
	var st RollupStats
	db := s.cfg.Database
	var today string
	if err := s.conn.QueryRow(ctx, "SELECT toString(toYYYYMMDD(toDateTime(?)))", before.Unix()).Scan(&today); err != nil {
		return st, fmt.Errorf("rollup: %w", err)
	}
	parts, err := s.fingerprints(ctx, "SELECT partition, sum(cityHash64(name)) FROM system.parts WHERE database = ? AND table = 'events' AND active GROUP BY partition", db)
	if err != nil {
		return st, fmt.Errorf("rollup: reading events partitions: %w", err)
	}
	rolled, err := s.fingerprints(ctx, "SELECT partition, fingerprint FROM "+db+".rollup_days FINAL")
	if err != nil {
		return st, fmt.Errorf("rollup: reading rollup_days: %w", err)
	}
	names := make([]string, 0, len(parts))
	for p := range parts {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, p := range names {
		if _, err := strconv.Atoi(p); err != nil || p >= today {
			continue
		}
		fp, ok := rolled[p]
		if ok && fp == parts[p] {
			st.Current++
			continue
		}
		if err := s.rollupDay(ctx, p, parts[p]); err != nil {
			return st, err
		}
		st.Rolled = append(st.Rolled, p)
	}
	// Days rolled up whose events are gone: their roll-ups go too, or the
	// dashboards would still count them.
	for p, fp := range rolled {
		if _, ok := parts[p]; ok || fp == 0 {
			continue
		}
		if _, err := strconv.Atoi(p); err != nil {
			continue
		}
		for _, r := range rollups {
			if err := s.conn.Exec(ctx, "ALTER TABLE "+db+"."+r.table+" DROP PARTITION "+p); err != nil {
				return st, fmt.Errorf("rollup: dropping %s of %s: %w", p, r.table, err)
			}
		}
		if err := s.recordRollup(ctx, p, 0); err != nil {
			return st, err
		}
		st.Dropped = append(st.Dropped, p)
	}
	slices.Sort(st.Dropped)
	return st, nil
}

// rollupDay replaces the roll-ups of day partition p, computed from the
// events as they are now, and records fingerprint fp (read before, so an
// insert meanwhile leaves the day stale, to be rolled up again).
func (s *Store) rollupDay(ctx context.Context, p string, fp uint64) error {
	db := s.cfg.Database
	for _, r := range rollups {
		if err := s.conn.Exec(ctx, "ALTER TABLE "+db+"."+r.table+" DROP PARTITION "+p); err != nil {
			return fmt.Errorf("rollup: dropping %s of %s: %w", p, r.table, err)
		}
		q := "INSERT INTO " + db + "." + r.table + " " + strings.NewReplacer("{db}", db, "{part}", p).Replace(r.fill)
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("rollup: %s of %s: %w", r.table, p, err)
		}
	}
	return s.recordRollup(ctx, p, fp)
}

// recordRollup records that day partition p was rolled up from parts of
// fingerprint fp (0: its roll-ups were dropped with it).
func (s *Store) recordRollup(ctx context.Context, p string, fp uint64) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.cfg.Database+".rollup_days (partition, fingerprint, rolled_ns)")
	if err != nil {
		return fmt.Errorf("rollup: recording %s: %w", p, err)
	}
	if err := batch.Append(p, fp, uint64(time.Now().UnixNano())); err != nil {
		return fmt.Errorf("rollup: recording %s: %w", p, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("rollup: recording %s: %w", p, err)
	}
	return nil
}

func (s *Store) fingerprints(ctx context.Context, q string, args ...any) (map[string]uint64, error) {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var p string
		var fp uint64
		if err := rows.Scan(&p, &fp); err != nil {
			return nil, err
		}
		out[p] = fp
	}
	return out, rows.Err()
}
