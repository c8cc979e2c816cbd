package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// For the tests of package clickhouse_test, which use clickhousetest.

var (
	OpenTest      = openTest
	MigrateTo     = migrateTo
	FirstColumns  = firstColumns
	InsertColumns = insertColumns
)

// OpenTestPartitions lists the events table's partitions.
func OpenTestPartitions(s *Store) ([]string, error) {
	return storeMigrator{s}.Partitions(context.Background())
}

// InsertWith inserts rows into the columns cols only, as a Store of that
// schema did.
func (s *Store) InsertWith(ctx context.Context, rows []Row, ingested time.Time, cols string) error {
	return s.insert(ctx, rows, ingested, cols)
}

// InsertValues is the INSERT the Store sends as a native batch, with the
// same columns and values written as SQL literals, for a server reached
// through text alone (chDB).
func InsertValues(db string, rows []Row, ingested time.Time, cols string) string {
	ncols := strings.Count(cols, ",") + 1
	cs := newColumns(len(rows))
	for i := range rows {
		cs.add(&rows[i], uint64(ingested.UnixMilli()))
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + db + ".events (" + cols + ") VALUES ")
	all := cs.all()[:ncols]
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j, col := range all {
			if j > 0 {
				b.WriteByte(',')
			}
			literal(&b, reflect.ValueOf(col).Index(i))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// literal writes v as a ClickHouse literal.
func literal(b *strings.Builder, v reflect.Value) {
	switch x := v.Interface().(type) {
	case string:
		b.WriteByte('\'')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(x))
		b.WriteByte('\'')
	case time.Time:
		b.WriteString(strconv.FormatInt(x.Unix(), 10))
	case []string:
		b.WriteByte('[')
		for i := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			literal(b, reflect.ValueOf(x[i]))
		}
		b.WriteByte(']')
	default:
		fmt.Fprint(b, x)
	}
}
