package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	good := `
kafka:
  brokers: [k1:9092, k2:9092]
  group: g
  topics:
    - {name: okta-audit, source: okta, tenant: acme}
    - {name: entra-audit, source: entra}
  dead_letter_topic: dead
clickhouse:
  addrs: [ch:9000]
  database: sw
  password_env: SCIMWATCH_CLICKHOUSE_PASSWORD
  retention_days: 90
batch: {max_rows: 1000, max_wait: 250ms}
shutdown_timeout: 5s
`
	cfg, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Batch.MaxWait != 250*time.Millisecond || cfg.Batch.Queue != DefaultConfig().Batch.Queue || cfg.ClickHouse.RetentionDays != 90 ||
		len(cfg.Kafka.Topics) != 2 || cfg.Kafka.Topics[0].Tenant != "acme" || cfg.Kafka.StartOffset != "earliest" {
		t.Errorf("decoded %+v", cfg)
	}

	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key, with its line", "kafka:\n  group: g\n  topcs: []\n", []string{"line 3", "field topcs not found"}},
		{"every error at once", `
kafka:
  brokers: [nohostport]
  group: ""
  topics:
    - {name: a, source: ldap}
    - {name: a}
    - {name: dead}
  dead_letter_topic: dead
  start_offset: middle
clickhouse: {addrs: [], database: "x-y", compression: zstd}
batch: {max_rows: 0, max_wait: 0s}
retry: {initial_backoff: 2s, max_backoff: 1s}
`, []string{
			`kafka.brokers[0]: "nohostport" is not host:port`,
			"kafka.group: required",
			`kafka.topics[0].source: unknown source "ldap"`,
			`kafka.topics[1].name: topic "a" is listed twice`,
			"kafka.topics[2].name: is also the dead_letter_topic",
			`kafka.start_offset: "middle" is not earliest or latest`,
			"clickhouse.addrs: at least one",
			`clickhouse.database: "x-y"`,
			`clickhouse.compression: "zstd"`,
			"batch.max_rows: must be positive",
			"batch.max_wait: must be positive",
			"retry: want 0 < initial_backoff <= max_backoff",
		}},
		{"no topics", "kafka: {group: g}\n", []string{"kafka.topics: at least one topic is required"}},
		// An unknown key once hid every value error.
		{"unknown keys and bad values together", "kafka:\n  group: \"\"\n  brokerz: [a]\n  topics: []\nbatch:\n  max_rows: -1\n",
			[]string{"line 3: field brokerz not found", "kafka.group: required", "kafka.topics: at least one topic", "batch.max_rows: must be positive"}},
		{"bad duration", "batch: {max_wait: soon}\n", []string{"soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte("kafka: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("error %v does not start with the file name", err)
	}
	if _, err := LoadConfig("testdata/quickstart.yaml"); err != nil {
		t.Errorf("quickstart.yaml: %v", err)
	}
}
