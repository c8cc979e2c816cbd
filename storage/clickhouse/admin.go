package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// Reachable checks that ClickHouse at addr answers within 5 s.
func Reachable(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg := DefaultConfig()
	cfg.Addrs, cfg.DialTimeout = []string{addr}, 5*time.Second
	store, err := Open(cfg, nil)
	if err == nil {
		err = store.Ping(ctx)
		store.Close()
	}
	if err != nil {
		return fmt.Errorf("clickhouse at %s does not answer: %w", addr, err)
	}
	return nil
}

// DropDatabase drops cfg's database (benchmarks and tests clean up with
// it); errors are ignored.
func DropDatabase(cfg Config) {
	s, err := Open(cfg, nil)
	if err != nil {
		return
	}
	defer s.Close()
	_ = s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
}
