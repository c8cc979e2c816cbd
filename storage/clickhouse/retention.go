package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// DropPartitionsBefore drops the events table's day partitions older than
// the day of cutoff and returns the partitions it dropped ("20261120").
// Partitions are whole days (toYYYYMMDD(time)), so retention is exact to
// the day with no TTL, which ClickHouse 18.16 lacks.
func (s *Store) DropPartitionsBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = 'events' AND active", s.cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	limit, _ := strconv.Atoi(cutoff.UTC().Format("20060102"))
	var dropped []string
	for _, p := range parts {
		day, err := strconv.Atoi(p)
		if err != nil || day >= limit {
			continue
		}
		if err := s.conn.Exec(ctx, "ALTER TABLE "+s.cfg.Database+".events DROP PARTITION "+strconv.Itoa(day)); err != nil {
			return dropped, fmt.Errorf("dropping partition %d: %w", day, err)
		}
		dropped = append(dropped, p)
	}
	return dropped, nil
}

// ApplyRetention drops partitions older than the configured retention, if
// any, as of now.
func (s *Store) ApplyRetention(ctx context.Context, now time.Time) ([]string, error) {
	if s.cfg.RetentionDays == 0 {
		return nil, nil
	}
	return s.DropPartitionsBefore(ctx, now.AddDate(0, 0, -s.cfg.RetentionDays))
}
