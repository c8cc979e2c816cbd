package service

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/detect"
	"github.com/scimwatch/scimwatch/ingest"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/internal/tlsconf"
	"github.com/scimwatch/scimwatch/kafka"
	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// TestIngestOnlyOnRunsFile: scimwatch ingest takes run's file and runs
// ingest alone: the detection sections' requirements (rules) do not apply,
// where run refuses the same file without rules.
func TestIngestOnlyOnRunsFile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: "audit", Source: "auto", Tenant: "acme"}}
	cfg.ClickHouse.Addrs, cfg.ClickHouse.DialTimeout = []string{"127.0.0.1:1"}, 100*time.Millisecond
	cfg.HTTP.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, "", cfg, RunOptions{}); err == nil || !strings.Contains(err.Error(), "rules: at least one rules directory") {
		t.Errorf("run without rules: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, "", cfg, RunOptions{IngestOnly: true}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ingest alone on the same file: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ingest did not stop with its context")
	}
}

// TestRunOverSASLSSL: scimwatch run (ingest and detection) against the
// real broker's SASL_SSL listener with SCRAM-SHA-512 and the test CA, and
// ClickHouse 18.16 over TLS as a password user that may use its database
// alone (and default, where 18.16 logs in): an Okta privilege grant
// written over SASL_SSL is stored in ClickHouse and raises its alert; the
// passwords come from the environment.
func TestRunOverSASLSSL(t *testing.T) {
	k := testenv.KafkaSecure(t)
	ch := testenv.ClickHouseTLS(t)
	t.Setenv("SCIMWATCH_TEST_KAFKA_RUN_PASSWORD", k.SCRAMPassword)
	client := kafka.Client{Brokers: []string{k.Addr}, SecurityProtocol: kafka.SASLSSL, TLS: kafka.TLSConfig{CAFile: k.CAFile},
		SASL: kafka.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: k.SCRAMUser, PasswordEnv: "SCIMWATCH_TEST_KAFKA_RUN_PASSWORD"}}
	if err := client.Resolve(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := testenv.Name("sasl_run")
	if err := client.CreateTopics(ctx, 2, topic); err != nil {
		t.Fatal(err)
	}
	r := startSecureRun(ctx, t, client, ch, topic, testenv.Name("sasl_run"), "")
	id := testenv.Name("sasl-grant")
	writeRecords(ctx, t, client, topic, grantRecord(id))
	r.awaitAlert(ctx, t, "privileged-role-grant")
	r.awaitStored(ctx, t, id)
}

// secureRun is scimwatch run in a test, over a secure Kafka client and
// ClickHouse's TLS writer.
type secureRun struct {
	cfg    Config
	alerts chan detect.Alert
	done   chan error
}

// startSecureRun starts scimwatch run (ingest and detection, no history)
// on topic with group, dead-lettering to dead when it is not empty; it
// stops when the test ends.
func startSecureRun(ctx context.Context, t *testing.T, client kafka.Client, ch testenv.ClickHouseSecure, topic, group, dead string) *secureRun {
	t.Setenv("SCIMWATCH_TEST_CH_RUN_PASSWORD", ch.WriterPassword)
	cfg := DefaultConfig()
	cfg.Kafka.Client = client
	cfg.Kafka.Group, cfg.Kafka.DeadLetterTopic = group, dead
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: topic, Source: "okta", Tenant: "acme"}}
	cfg.ClickHouse.Addrs, cfg.ClickHouse.Database, cfg.ClickHouse.Compression = []string{ch.Addr}, ch.WriterBase, "none"
	cfg.ClickHouse.Username, cfg.ClickHouse.PasswordEnv = ch.Writer, "SCIMWATCH_TEST_CH_RUN_PASSWORD"
	cfg.ClickHouse.Secure, cfg.ClickHouse.TLS = true, tlsconf.Config{CAFile: ch.CAFile}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Batch.MaxWait = 200 * time.Millisecond
	cfg.Rules = []string{"../rules/builtin"}
	cfg.History.Store = "none"
	r := &secureRun{cfg: cfg, alerts: make(chan detect.Alert, 16), done: make(chan error, 1)}
	rctx, stop := context.WithCancel(ctx)
	go func() {
		r.done <- Run(rctx, "", cfg, RunOptions{Watch: time.Hour, OnAlert: func(a detect.Alert) { r.alerts <- a }})
	}()
	t.Cleanup(func() { stop(); <-r.done })
	return r
}

// grantRecord is an Okta System Log record of an admin granting Super
// Administrator, with id.
func grantRecord(id string) []byte {
	return []byte(fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":"user.account.privilege.grant",`+
		`"actor":{"id":"00u-admin","type":"User","alternateId":"pat@acme.example"},"client":{"ipAddress":"203.0.113.9"},`+
		`"outcome":{"result":"SUCCESS"},"target":[{"id":"00u-eve","type":"User","alternateId":"eve@acme.example"},`+
		`{"id":"SUPER_ADMIN","type":"ROLE","displayName":"Super Administrator"}]}`, id, time.Now().UTC().Format(time.RFC3339Nano)))
}

// writeRecords writes records to topic with client, acknowledged by every
// replica.
func writeRecords(ctx context.Context, t *testing.T, client kafka.Client, topic string, records ...[]byte) {
	t.Helper()
	w := client.Writer(topic)
	w.BatchTimeout, w.RequiredAcks = time.Millisecond, kafkago.RequireAll
	defer w.Close()
	msgs := make([]kafkago.Message, len(records))
	for i, rec := range records {
		msgs[i] = kafkago.Message{Key: []byte("acme"), Value: rec}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// awaitAlert waits for an alert of rule.
func (r *secureRun) awaitAlert(ctx context.Context, t *testing.T, rule string) {
	t.Helper()
	for {
		select {
		case a := <-r.alerts:
			if a.Rule == rule {
				return
			}
		case err := <-r.done:
			t.Fatalf("run stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("no %s alert", rule)
		}
	}
}

// awaitStored waits for the event id in ClickHouse.
func (r *secureRun) awaitStored(ctx context.Context, t *testing.T, id string) {
	t.Helper()
	store, err := clickhouse.Open(r.cfg.ClickHouse, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for {
		var n uint64
		if err := store.Conn().QueryRow(ctx, "SELECT count() FROM "+r.cfg.ClickHouse.Database+".events WHERE id = '"+id+"'").Scan(&n); err == nil && n >= 1 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s was not stored", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunStopsOnAWrongPassword: a broker that refuses scimwatch stops run
// at start with why, rather than leaving it retrying for ever.
func TestRunStopsOnAWrongPassword(t *testing.T) {
	k := testenv.KafkaSecure(t)
	t.Setenv("SCIMWATCH_TEST_KAFKA_WRONG_PASSWORD", "wrong-"+k.SCRAMPassword)
	cfg := DefaultConfig()
	cfg.Kafka.Client = kafka.Client{Brokers: []string{k.Addr}, SecurityProtocol: kafka.SASLSSL, TLS: kafka.TLSConfig{CAFile: k.CAFile},
		SASL: kafka.SASLConfig{Mechanism: "SCRAM-SHA-256", Username: k.SCRAMUser, PasswordEnv: "SCIMWATCH_TEST_KAFKA_WRONG_PASSWORD"}}
	cfg.Kafka.Topics = []ingest.TopicConfig{{Name: "audit", Source: "okta", Tenant: "acme"}}
	cfg.HTTP.Listen = "127.0.0.1:0"
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), "", cfg, RunOptions{IngestOnly: true}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "SASL Authentication failed") || !strings.Contains(err.Error(), "check kafka.security_protocol, tls and sasl") {
			t.Errorf("got %v", err)
		}
		if err != nil && strings.Contains(err.Error(), k.SCRAMPassword) {
			t.Errorf("the error names the password: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop on a wrong password")
	}
}

// TestRunWithLeastPrivilege: scimwatch run works with exactly the Kafka
// ACLs README's "Least privilege" lists (read its topics, read its two
// consumer groups, write the dead-letter topic) and ClickHouse's
// one-database writer: a grant raises its alert and is stored, a record
// that cannot be read reaches the dead-letter topic.
func TestRunWithLeastPrivilege(t *testing.T) {
	k := testenv.KafkaSecure(t)
	ch := testenv.ClickHouseTLS(t)
	super := testenv.Kafka(t)
	t.Setenv("SCIMWATCH_TEST_KAFKA_ACL_PASSWORD", k.ACLPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic, dead, group := testenv.Name("acl_audit"), testenv.Name("acl_dead"), testenv.Name("acl_ingest")
	admin := kafka.Client{Brokers: []string{super}}
	if err := admin.CreateTopics(ctx, 2, topic, dead); err != nil {
		t.Fatal(err)
	}
	principal := "User:" + k.ACLUser
	acl := func(rt kafkago.ResourceType, name string, op kafkago.ACLOperationType) kafkago.ACLEntry {
		return kafkago.ACLEntry{ResourceType: rt, ResourceName: name, ResourcePatternType: kafkago.PatternTypeLiteral, Principal: principal,
			Host: "*", Operation: op, PermissionType: kafkago.ACLPermissionTypeAllow}
	}
	res, err := (&kafkago.Client{Addr: kafkago.TCP(super)}).CreateACLs(ctx, &kafkago.CreateACLsRequest{ACLs: []kafkago.ACLEntry{
		acl(kafkago.ResourceTypeTopic, topic, kafkago.ACLOperationTypeRead),
		acl(kafkago.ResourceTypeGroup, group, kafkago.ACLOperationTypeRead),
		acl(kafkago.ResourceTypeGroup, group+"-detect", kafkago.ACLOperationTypeRead),
		acl(kafkago.ResourceTypeTopic, dead, kafkago.ACLOperationTypeWrite),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors {
		if e != nil {
			t.Fatal(e)
		}
	}

	client := kafka.Client{Brokers: []string{k.Addr}, SecurityProtocol: kafka.SASLSSL, TLS: kafka.TLSConfig{CAFile: k.CAFile},
		SASL: kafka.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: k.ACLUser, PasswordEnv: "SCIMWATCH_TEST_KAFKA_ACL_PASSWORD"}}
	// The ACLs bind: a topic it was not granted is refused.
	if err := client.Resolve(); err != nil {
		t.Fatal(err)
	}
	other := testenv.Name("acl_other")
	if err := admin.CreateTopics(ctx, 1, other); err != nil {
		t.Fatal(err)
	}
	r0 := client.PartitionReader(other, 0, kafka.ReaderConfig{})
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = r0.FetchMessage(fctx)
	fcancel()
	r0.Close()
	if err == nil || !strings.Contains(err.Error(), "Authorization") {
		t.Fatalf("reading a topic not granted: %v, want an authorization error", err)
	}
	r := startSecureRun(ctx, t, client, ch, topic, group, dead)
	id := testenv.Name("acl-grant")
	writeRecords(ctx, t, admin, topic, grantRecord(id), []byte("not json"))
	r.awaitAlert(ctx, t, "privileged-role-grant")
	got := make(chan kafkago.Message, 2)
	for p := range 2 {
		rd := admin.PartitionReader(dead, p, kafka.ReaderConfig{})
		defer rd.Close()
		go func() {
			if m, err := rd.ReadMessage(ctx); err == nil {
				got <- m
			}
		}()
	}
	select {
	case m := <-got:
		if string(m.Value) != "not json" {
			t.Errorf("dead letter %q", m.Value)
		}
	case <-ctx.Done():
		t.Fatal("the record that cannot be read never reached the dead-letter topic")
	}
	r.awaitStored(ctx, t, id)
}
