package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/alerting/slack/fakeslack"
	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/kafka"
)

// TestSecretsNeverShown plants every secret scimwatch takes (the Kafka
// password, an Event Hubs connection string, the ClickHouse password, the
// Slack token and signing secret) in the environment, runs scimwatch run
// at debug level over SASL_SSL Kafka and TLS ClickHouse until an alert is
// posted to Slack, then with a wrong Kafka password and with the Event
// Hubs shape, and looks for each secret in every log line, every error,
// /metrics, /readyz and every command's --help: none may appear.
func TestSecretsNeverShown(t *testing.T) {
	k := testenv.KafkaSecure(t)
	ch := testenv.ClickHouseTLS(t)
	ws := fakeslack.Start()
	defer ws.Stop()
	secrets := map[string]string{
		"SCIMWATCH_TEST_SECRET_KAFKA":     k.SCRAMPassword,
		"SCIMWATCH_TEST_SECRET_EVENTHUBS": k.EventHubsConnectionString,
		"SCIMWATCH_TEST_SECRET_CH":        ch.WriterPassword,
		"SCIMWATCH_TEST_SECRET_SLACK":     "xoxb-planted-" + testenv.Name("token"),
		"SCIMWATCH_TEST_SECRET_SIGNING":   "planted-signing-" + testenv.Name("secret"),
		"SCIMWATCH_TEST_SECRET_WRONG":     "planted-wrong-" + testenv.Name("password"),
	}
	for env, v := range secrets {
		t.Setenv(env, v)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// A tenant of its own: alerting's store (the writer's one database)
	// outlives the run, and another run's notification must not be taken
	// for this one's.
	topic, group, tenant := testenv.Name("secrets"), testenv.Name("secrets"), testenv.Name("acme")
	admin := kafka.Client{Brokers: []string{testenv.Kafka(t)}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := admin.CreateTopics(ctx, 1, topic); err != nil {
		t.Fatal(err)
	}
	config := func(mechanism, user, passwordEnv string) string {
		return writeFile(t, "scimwatch.yaml", fmt.Sprintf(`kafka:
  brokers: [%s]
  security_protocol: SASL_SSL
  tls: {ca_file: %s}
  sasl: {mechanism: %s, username: %q, password_env: %s}
  group: %s
  topics: [{name: %s, source: okta, tenant: %s}]
clickhouse:
  addrs: [%s]
  database: %s
  username: %s
  password_env: SCIMWATCH_TEST_SECRET_CH
  secure: true
  tls: {ca_file: %s}
  compression: none
http: {listen: %q}
batch: {max_wait: 200ms}
rules: [../../rules/builtin]
history: {store: none}
alerting:
  store: clickhouse
  group_wait: 0s
  slack:
    api_url: %s
    token_env: SCIMWATCH_TEST_SECRET_SLACK
    signing_secret_env: SCIMWATCH_TEST_SECRET_SIGNING
    channel: "#soc"
`, k.Addr, k.CAFile, mechanism, user, passwordEnv, group, topic, tenant, ch.Addr, ch.WriterBase, ch.Writer, ch.CAFile, addr, ws.URL()))
	}
	var shown strings.Builder
	get := func(path string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		shown.Write(b)
	}

	// The whole job, until an alert is in Slack.
	var logs syncBuffer
	rctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- run(rctx, []string{"run", "--config", config("SCRAM-SHA-512", k.SCRAMUser, "SCIMWATCH_TEST_SECRET_KAFKA"), "--log-level", "debug"},
			strings.NewReader(""), &logs, &logs)
	}()
	w := admin.Writer(topic)
	w.BatchTimeout = time.Millisecond
	defer w.Close()
	grant := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":"user.account.privilege.grant","actor":{"id":"00u-admin","type":"User","alternateId":"pat@acme.example"},`+
		`"outcome":{"result":"SUCCESS"},"target":[{"id":"00u-eve","type":"User","alternateId":"eve@acme.example"},{"id":"SUPER_ADMIN","type":"ROLE","displayName":"Super Administrator"}]}`,
		testenv.Name("grant"), time.Now().UTC().Format(time.RFC3339Nano))
	if err := w.WriteMessages(ctx, kafkago.Message{Value: []byte(grant)}); err != nil {
		t.Fatal(err)
	}
	for len(ws.Messages("#soc")) == 0 {
		select {
		case code := <-done:
			t.Fatalf("run stopped (%d):\n%s", code, logs.String())
		case <-ctx.Done():
			t.Fatalf("no alert in Slack:\n%s", logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	get("/metrics")
	get("/readyz")
	get("/healthz")
	stop()
	<-done
	shown.WriteString(logs.String())

	// A wrong password, and Event Hubs' shape: the errors and logs.
	for _, args := range [][]string{
		{"run", "--config", config("SCRAM-SHA-512", k.SCRAMUser, "SCIMWATCH_TEST_SECRET_WRONG"), "--log-level", "debug"},
		{"ingest", "--config", config("PLAIN", "$ConnectionString", "SCIMWATCH_TEST_SECRET_EVENTHUBS"), "--log-level", "debug"},
	} {
		var out syncBuffer
		ictx, istop := context.WithTimeout(ctx, 5*time.Second)
		run(ictx, args, strings.NewReader(""), &out, &out)
		istop()
		shown.WriteString(out.String())
	}
	for _, c := range commands {
		var out bytes.Buffer
		c.run(ctx, &cmdIO{stdin: strings.NewReader(""), stdout: &out, stderr: &out}, []string{"--help"})
		shown.Write(out.Bytes())
	}
	for _, want := range []string{"msg=alert", "scimwatch_ingest_events_inserted_total", "SASL Authentication failed"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("what was looked through lacks %q: the run did not show what the test means to search", want)
		}
	}
	if !strings.Contains(shown.String(), "SASL Authentication failed") {
		t.Errorf("the wrong password's run did not say why it stopped:\n%s", shown.String())
	}
	for env, v := range secrets {
		if strings.Contains(shown.String(), v) {
			i := strings.Index(shown.String(), v)
			t.Errorf("$%s's value is shown: …%s…", env, shown.String()[max(0, i-200):i])
		}
	}
}
