package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ingestUses are the sections scimwatch ingest validates.
const ingestUses = UsesIngest | UsesClickHouse

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
	cfg, err := Parse([]byte(good), ingestUses)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Batch.MaxWait != 250*time.Millisecond || cfg.Batch.Queue != DefaultConfig().Batch.Queue || cfg.ShutdownTimeout != 5*time.Second || cfg.ClickHouse.RetentionDays != 90 ||
		len(cfg.Kafka.Topics) != 2 || cfg.Kafka.Topics[0].Tenant != "acme" || cfg.Kafka.StartOffset != "earliest" {
		t.Errorf("decoded %+v", cfg)
	}

	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key, with its line and the key meant", "kafka:\n  group: g\n  topcs: []\n", []string{"line 3: unknown key `topcs` in kafka (did you mean `topics`?)"}},
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
			[]string{"line 3: unknown key `brokerz` in kafka (did you mean `brokers`?)", "kafka.group: required", "kafka.topics: at least one topic", "batch.max_rows: must be positive"}},
		{"bad duration", "batch: {max_wait: soon}\n", []string{"soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), ingestUses)
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
	if _, err := Load(p, ingestUses); err == nil || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("error %v does not start with the file name", err)
	}
	if _, err := Load("../ingest/testdata/quickstart.yaml", ingestUses); err != nil {
		t.Errorf("quickstart.yaml: %v", err)
	}
}

// TestConfigErrorsAllAtOnce: a file with slips in several sections gets
// every one reported, each with its line and the key meant, never a Go
// type; durations take days and weeks as rules do.
func TestConfigErrorsAllAtOnce(t *testing.T) {
	doc := `
kafka:
  brokers: [k1:9092]
  topics: [{name: okta, source: okta, tenant: acme}]
  group_id: g
detect:
  allowed_lateness: 200d
  max_keyz: 10
  overrides:
    acme:
      bulk-role-change: {windw: 5m}
history:
  warm_timeout: 2w
alerting:
  http: {listen: 0.0.0.0:9465}
  group_by: [rule]
  slack: {chanel: "#soc"}
batch: {max_wait: soon}
component: {ingest: true}
`
	cfg, err := Parse([]byte(doc), UsesIngest|UsesDetection)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"line 5: unknown key `group_id` in kafka (did you mean `group`?)",
		"line 8: unknown key `max_keyz` in detect (did you mean `max_keys`?)",
		"line 11: unknown key `windw` in detect.overrides.acme.bulk-role-change (did you mean `window`?)",
		"line 15: `alerting.http` has moved: set http.listen instead",
		"line 17: unknown key `chanel` in alerting.slack (did you mean `channel`?)",
		"line 19: unknown key `component` (did you mean `components`?)",
		"`soon`",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), " in type ") || strings.Contains(err.Error(), "struct") {
		t.Errorf("error names Go types:\n%v", err)
	}
	if cfg.Detect.AllowedLateness != 200*24*time.Hour || cfg.History.WarmTimeout != 14*24*time.Hour {
		t.Errorf("allowed_lateness %v, warm_timeout %v: days and weeks not read", cfg.Detect.AllowedLateness, cfg.History.WarmTimeout)
	}
}

func TestExpandDays(t *testing.T) {
	for in, want := range map[string]string{
		"200d": "4800h", "2w": "336h", "1d12h": "24h12h", "90s": "90s", "1h30m": "1h30m", "soon": "soon", "": "",
		"99999999999d": "99999999999d",                            // out of range: left for the decoder to refuse
		"1.5d":         "1.5d", "3h2d": "3h2d", "2w3d": "336h72h", // days inside a number or after hours: not units
	} {
		if got := expandDays(in); got != want {
			t.Errorf("expandDays(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSectionsACommandDoesNotUse: a command validates only the sections it
// uses, so run's file serves every command: rules lint needs neither
// Kafka's topics nor a valid alerting section.
func TestSectionsACommandDoesNotUse(t *testing.T) {
	doc := `
rules: [../rules/builtin]
kafka: {brokers: [k:9092]}
alerting:
  store: bogus
  slack: {channel: "#soc"}
`
	if _, err := Parse([]byte(doc), UsesDetection); err != nil {
		t.Errorf("rules lint's sections: %v", err)
	}
	_, err := Parse([]byte(doc), UsesService)
	for _, want := range []string{"kafka.topics: at least one topic is required", `alerting.store: "bogus"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run's sections: error %v lacks %q", err, want)
		}
	}
}
