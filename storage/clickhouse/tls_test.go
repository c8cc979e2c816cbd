package clickhouse_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimwatch/scimwatch/event"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/internal/tlsconf"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// TestTLS: the store speaks the native protocol over TLS to ClickHouse
// 18.16's tcp_port_secure, verifying its certificate against the test CA,
// as a password user that may use one database: migrations, an insert,
// the rules user's reads. A certificate of another CA, or a plaintext
// client on the TLS port, fails within the dial timeout.
func TestTLS(t *testing.T) {
	s := testenv.ClickHouseTLS(t)
	t.Setenv("SCIMWATCH_TEST_CH_WRITER_PASSWORD", s.WriterPassword)
	cfg := clickhouse.DefaultConfig()
	cfg.Addrs, cfg.Database, cfg.Username, cfg.PasswordEnv = []string{s.Addr}, s.WriterBase, s.Writer, "SCIMWATCH_TEST_CH_WRITER_PASSWORD"
	cfg.Secure, cfg.TLS = true, tlsconf.Config{CAFile: s.CAFile}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := clickhouse.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id := testenv.Name("tls")
	ev := event.Event{ID: id, Time: time.Now().UTC(), Tenant: "acme", Source: "okta", Action: event.ActionUserCreate, Outcome: event.OutcomeSuccess,
		Actor: event.Actor{ID: "u-admin"}, Targets: []event.Target{{ID: "u-new", Type: "user"}}}
	if err := store.Insert(ctx, []clickhouse.Row{{Event: &ev, Topic: "tls", Partition: 0, Offset: 1}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM "+cfg.Database+".events WHERE id = '"+id+"'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count %d, %v", n, err)
	}
	qc, err := store.QueryConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := qc.Ping(ctx); err != nil {
		t.Fatalf("the rules user's connection over TLS: %v", err)
	}

	other := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(other, testenv.OtherCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*clickhouse.Config)
		want string
	}{
		{"a certificate of another CA", func(c *clickhouse.Config) { c.TLS.CAFile = other }, "certificate signed by unknown authority"},
		{"a plaintext client on the TLS port", func(c *clickhouse.Config) { c.Secure, c.TLS = false, tlsconf.Config{} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.DialTimeout = 5 * time.Second
			tc.edit(&c)
			st, err := clickhouse.Open(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			start := time.Now()
			err = st.Ping(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}
