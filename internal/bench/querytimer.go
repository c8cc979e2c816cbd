package bench

import (
	"context"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// queryTimer runs a query to its end and reports its time and the rows
// ClickHouse read for it.
type queryTimer struct{ conn driver.Conn }

func (q *queryTimer) run(ctx context.Context, sql string) (float64, uint64, error) {
	var read uint64
	ctx = ch.Context(ctx, ch.WithProgress(func(p *ch.Progress) { read += p.Rows }))
	start := time.Now()
	rows, err := q.conn.Query(ctx, sql)
	if err != nil {
		return 0, 0, err
	}
	for rows.Next() {
	}
	err = rows.Err()
	rows.Close()
	return time.Since(start).Seconds(), read, err
}
