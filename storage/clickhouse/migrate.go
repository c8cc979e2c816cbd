package clickhouse

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed migrations/*.sql migrations/*.tmpl
var migrationFS embed.FS

// Migration is one versioned schema change: migrations/NNNN_name.sql, its
// statements separated by ";" at the end of a line.
//
// Every statement must be idempotent (CREATE … IF NOT EXISTS, or an ALTER
// whose "already exists" error is ignored): two instances starting at once
// may both apply it. ClickHouse has no transactions or locks to prevent
// that, so correctness comes from idempotence, and the schema_migrations
// table, a ReplacingMergeTree keyed by version, collapses the double record.
//
// A statement may be guarded by a comment line just before it,
// "-- only if: SELECT …": it runs only when that query's first value is not
// 0, so that a step that cannot be written idempotently (RENAME) runs only
// while it is still to do.
//
// A statement after the comment line "-- for each events partition" runs
// once per day partition of the events table, "$partition" in it replaced
// by the partition's id (20261120): a back-fill over the events already
// stored then holds one day in memory, not all of them.
type Migration struct {
	Version    uint32
	Name       string
	Statements []Statement
}

// Statement is one statement of a migration and its guard, if any.
type Statement struct {
	SQL    string
	OnlyIf string
	// EachPartition: run once per events partition.
	EachPartition bool
}

// Migrations returns the embedded migrations in version order, rendered for
// database db.
func Migrations(db string) ([]Migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	// Partials (_*.tmpl) hold the templates several migrations use.
	partials, err := fs.Glob(migrationFS, "migrations/_*.tmpl")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, p := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(p, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", p)
		}
		src, err := migrationFS.ReadFile(p)
		if err != nil {
			return nil, err
		}
		t, err := template.New(p).Option("missingkey=error").Parse(string(src))
		if err == nil && len(partials) > 0 {
			t, err = t.ParseFS(migrationFS, partials...)
		}
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", p, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, struct{ Database string }{db}); err != nil {
			return nil, fmt.Errorf("migration %s: %w", p, err)
		}
		m := Migration{Version: uint32(v), Name: name}
		m.Statements = splitStatements(buf.String())
		out = append(out, m)
	}
	return out, nil
}

// splitStatements splits SQL at ";" ending a line, dropping comment lines
// but for "-- only if:" guards, which go with the statement after them.
func splitStatements(sql string) []Statement {
	var out []Statement
	var cur strings.Builder
	guard, each := "", false
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if g, ok := strings.CutPrefix(trimmed, "-- only if:"); ok {
			guard = strings.TrimSpace(g)
			continue
		}
		if trimmed == "-- for each events partition" {
			each = true
			continue
		}
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			if s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"); s != "" {
				out = append(out, Statement{SQL: s, OnlyIf: guard, EachPartition: each})
			}
			cur.Reset()
			guard, each = "", false
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, Statement{SQL: s, OnlyIf: guard, EachPartition: each})
	}
	return out
}

// Migrate creates the database and applies the migrations not yet
// recorded, in order. It is safe to run at every start and from several
// instances at once.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.bootstrap(ctx); err != nil {
		return err
	}
	db := s.cfg.Database
	applied, err := s.AppliedMigrations(ctx)
	if err != nil {
		return err
	}
	ms, err := Migrations(db)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if slices.Contains(applied, m.Version) {
			continue
		}
		// Another instance applying the same migration at once can make a
		// step fail between its guard and its execution (a table renamed
		// meanwhile): the guards make it safe to start over.
		for attempt := 1; ; attempt++ {
			err := s.apply(ctx, m)
			if err == nil {
				break
			}
			if attempt == 3 || ctx.Err() != nil {
				return err
			}
			s.logger.Warn("migration failed; starting it over", "version", m.Version, "name", m.Name, "err", err)
		}
		if err := s.record(ctx, m); err != nil {
			return fmt.Errorf("recording migration %04d_%s: %w", m.Version, m.Name, err)
		}
		s.logger.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	s.migrated.Store(true)
	return nil
}

// bootstrap creates the database and the table of applied migrations.
func (s *Store) bootstrap(ctx context.Context) error {
	db := s.cfg.Database
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		return fmt.Errorf("creating database %s: %w", db, err)
	}
	if err := s.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+db+`.schema_migrations (
		version UInt32, name String, applied_at DateTime
	) ENGINE = ReplacingMergeTree() ORDER BY version`); err != nil {
		return fmt.Errorf("creating %s.schema_migrations: %w", db, err)
	}
	return nil
}

// apply runs m's statements whose guards hold.
func (s *Store) apply(ctx context.Context, m Migration) error {
	return Apply(ctx, storeMigrator{s}, m)
}

// Migrator is what applying a migration needs of a server: the Store's
// connection, or in the tests another ClickHouse (chDB, a current release)
// that must take the same statements.
type Migrator interface {
	Exec(ctx context.Context, sql string) error
	// Count runs a guard, a query of one UInt64.
	Count(ctx context.Context, sql string) (uint64, error)
	// Partitions lists the day partitions of the events table.
	Partitions(ctx context.Context) ([]string, error)
}

// Apply runs m's statements whose guards hold on x; a statement "for each
// events partition" once per day partition, in order. Migrate applies
// through the Store's connection; tests apply to other servers.
func Apply(ctx context.Context, x Migrator, m Migration) error {
	for i, stmt := range m.Statements {
		if stmt.OnlyIf != "" {
			n, err := x.Count(ctx, stmt.OnlyIf)
			if err != nil {
				return fmt.Errorf("migration %04d_%s statement %d: guard: %w", m.Version, m.Name, i+1, err)
			}
			if n == 0 {
				continue
			}
		}
		if !stmt.EachPartition {
			if err := x.Exec(ctx, stmt.SQL); err != nil {
				return fmt.Errorf("migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
			continue
		}
		parts, err := x.Partitions(ctx)
		if err != nil {
			return fmt.Errorf("migration %04d_%s statement %d: listing partitions: %w", m.Version, m.Name, i+1, err)
		}
		for _, p := range parts {
			if _, err := strconv.Atoi(p); err != nil {
				return fmt.Errorf("migration %04d_%s statement %d: partition %q is not a day", m.Version, m.Name, i+1, p)
			}
			if err := x.Exec(ctx, strings.ReplaceAll(stmt.SQL, "$partition", p)); err != nil {
				return fmt.Errorf("migration %04d_%s statement %d, partition %s: %w", m.Version, m.Name, i+1, p, err)
			}
		}
	}
	return nil
}

// storeMigrator applies migrations through the Store's connection.
type storeMigrator struct{ s *Store }

func (m storeMigrator) Exec(ctx context.Context, sql string) error { return m.s.conn.Exec(ctx, sql) }

func (m storeMigrator) Count(ctx context.Context, sql string) (uint64, error) {
	var n uint64
	err := m.s.conn.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

func (m storeMigrator) Partitions(ctx context.Context) ([]string, error) {
	parts, err := m.s.fingerprints(ctx, "SELECT partition, toUInt64(0) FROM system.parts WHERE database = ? AND table = 'events' AND active GROUP BY partition", m.s.cfg.Database)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(parts)), nil
}

// record writes m to schema_migrations. Inserts go through a native batch:
// ClickHouse 18.16 does not read VALUES inlined in a native-protocol query.
func (s *Store) record(ctx context.Context, m Migration) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.cfg.Database+".schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := b.Append(m.Version, m.Name, time.Now()); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// AppliedMigrations returns the versions recorded in schema_migrations.
func (s *Store) AppliedMigrations(ctx context.Context) ([]uint32, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version FROM "+s.cfg.Database+".schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Pending reports whether some embedded migration is not applied.
func (s *Store) Pending(ctx context.Context) (bool, error) {
	applied, err := s.AppliedMigrations(ctx)
	if err != nil {
		return true, err
	}
	ms, err := Migrations(s.cfg.Database)
	if err != nil {
		return true, err
	}
	for _, m := range ms {
		if !slices.Contains(applied, m.Version) {
			return true, nil
		}
	}
	return false, nil
}
