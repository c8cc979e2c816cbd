package kafka_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/internal/testenv"
	"github.com/scimwatch/scimwatch/kafka"
)

// TestSASLSSL: every mechanism scimwatch offers works against the real
// broker's SASL_SSL listener (a certificate of a CA made for the test,
// SCRAM users made at format time, PLAIN users, and Azure Event Hubs'
// shape: PLAIN, $ConnectionString, the connection string as the password,
// read from the environment), through the same Client every component
// uses: a topic is created, written to and read back by a consumer group.
func TestSASLSSL(t *testing.T) {
	k := testenv.KafkaSecure(t)
	for _, tc := range []struct {
		name, mechanism, user, password string
	}{
		{"scram-sha-256", "SCRAM-SHA-256", k.SCRAMUser, k.SCRAMPassword},
		{"scram-sha-512", "SCRAM-SHA-512", k.SCRAMUser, k.SCRAMPassword},
		{"plain", "PLAIN", k.PlainUser, k.PlainPassword},
		{"event-hubs", "PLAIN", "$ConnectionString", k.EventHubsConnectionString},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := "SCIMWATCH_TEST_KAFKA_PASSWORD_" + strings.ToUpper(strings.ReplaceAll(tc.name, "-", "_"))
			t.Setenv(env, tc.password)
			c := kafka.Client{Brokers: []string{k.Addr}, SecurityProtocol: kafka.SASLSSL, TLS: kafka.TLSConfig{CAFile: k.CAFile},
				SASL: kafka.SASLConfig{Mechanism: tc.mechanism, Username: tc.user, PasswordEnv: env}}
			if err := c.Resolve(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := c.Reachable(ctx); err != nil {
				t.Fatal(err)
			}
			topic := testenv.Name("sasl-" + tc.name)
			if err := c.CreateTopics(ctx, 1, topic); err != nil {
				t.Fatal(err)
			}
			w := c.Writer(topic)
			w.BatchTimeout = time.Millisecond
			defer w.Close()
			for err := w.WriteMessages(ctx, kafkago.Message{Value: []byte("one")}, kafkago.Message{Value: []byte("two")}); err != nil; err = w.WriteMessages(ctx, kafkago.Message{Value: []byte("one")}, kafkago.Message{Value: []byte("two")}) {
				if ctx.Err() != nil {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond) // the topic's leader being elected
			}
			got := make(chan string, 2)
			g := &kafka.Group{Client: c, ID: topic, Topics: []string{topic}}
			gctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- g.Run(gctx, func(ctx context.Context, gen *kafkago.Generation) {
					for _, pa := range gen.Assignments[topic] {
						r := c.PartitionReader(topic, pa.ID, kafka.ReaderConfig{})
						defer r.Close()
						_ = r.SetOffset(pa.Offset)
						bo := &kafka.Backoff{Initial: 10 * time.Millisecond, Max: time.Second}
						for range 2 {
							m, ok := kafka.Fetch(ctx, r, bo, func(err error) { t.Log(err) })
							if !ok {
								return
							}
							got <- string(m.Value)
						}
					}
					<-ctx.Done()
				})
			}()
			for _, want := range []string{"one", "two"} {
				select {
				case v := <-got:
					if v != want {
						t.Errorf("read %q, want %q", v, want)
					}
				case <-ctx.Done():
					t.Fatalf("nothing read over SASL_SSL (%s)", tc.mechanism)
				}
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSecurityMistakesFailFast: a wrong password, a broker certificate of
// an unknown CA, a plaintext client on the SASL_SSL listener and a TLS
// client on the plaintext one each fail at the first request, within the
// dial timeout, with an error that says what is wrong, never a hang and
// never the password.
func TestSecurityMistakesFailFast(t *testing.T) {
	k := testenv.KafkaSecure(t)
	plainAddr := testenv.Kafka(t)
	t.Setenv("SCIMWATCH_TEST_KAFKA_GOOD", k.SCRAMPassword)
	t.Setenv("SCIMWATCH_TEST_KAFKA_BAD", "not-the-password-"+k.SCRAMPassword)
	other := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(other, testenv.OtherCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	scram := func(addr, protocol, ca, env string) kafka.Client {
		c := kafka.Client{Brokers: []string{addr}, SecurityProtocol: protocol}
		if protocol == kafka.SASLSSL || protocol == kafka.SSL {
			c.TLS.CAFile = ca
		}
		if protocol == kafka.SASLSSL {
			c.SASL = kafka.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: k.SCRAMUser, PasswordEnv: env}
		}
		return c
	}
	for _, tc := range []struct {
		name string
		c    kafka.Client
		want string
	}{
		{"wrong password", scram(k.Addr, kafka.SASLSSL, k.CAFile, "SCIMWATCH_TEST_KAFKA_BAD"), "SASL Authentication failed"},
		{"unknown CA", scram(k.Addr, kafka.SASLSSL, other, "SCIMWATCH_TEST_KAFKA_GOOD"), "certificate signed by unknown authority"},
		{"plaintext client on the SASL_SSL listener", scram(k.Addr, kafka.Plaintext, "", ""), "does security_protocol PLAINTEXT match its listener?"},
		{"TLS client on the plaintext listener", scram(plainAddr, kafka.SSL, k.CAFile, ""), "does security_protocol SSL match its listener?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.c.Resolve(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := tc.c.Reachable(context.Background())
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), k.SCRAMPassword) {
				t.Errorf("the error names the password: %v", err)
			}
			if took > kafka.DialTimeout+5*time.Second {
				t.Errorf("took %v", took)
			}
			if !kafka.Misconfigured(err) {
				t.Errorf("%v is taken for an outage: run would retry it for ever", err)
			}
			t.Logf("%s after %v: %v", tc.name, took.Round(time.Millisecond), err)
		})
	}
}

// TestOutageIsNotMisconfiguration: a broker that does not answer at all
// is an outage, which the consumers retry through, not a reason to stop.
func TestOutageIsNotMisconfiguration(t *testing.T) {
	err := kafka.Client{Brokers: []string{"127.0.0.1:1"}}.Reachable(context.Background())
	if err == nil || kafka.Misconfigured(err) {
		t.Errorf("a refused connection: %v, misconfigured %v", err, kafka.Misconfigured(err))
	}
}

// TestResolveErrors: what a client needs and does not have is said at
// start, naming the setting, not the secret.
func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct {
		c    kafka.Client
		want string
	}{
		{kafka.Client{SecurityProtocol: "SASL_TLS"}, `security_protocol: "SASL_TLS" is not`},
		{kafka.Client{SecurityProtocol: kafka.SASLSSL, SASL: kafka.SASLConfig{Mechanism: "GSSAPI", Username: "u", PasswordEnv: "X"}}, `sasl.mechanism: "GSSAPI"`},
		{kafka.Client{SecurityProtocol: kafka.SASLSSL, SASL: kafka.SASLConfig{Mechanism: "PLAIN", Username: "u"}}, "one of password_env or password_file"},
		{kafka.Client{SecurityProtocol: kafka.SASLSSL, SASL: kafka.SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordEnv: "SCIMWATCH_TEST_UNSET_PASSWORD"}}, "sasl.password: $SCIMWATCH_TEST_UNSET_PASSWORD is not set"},
		{kafka.Client{SecurityProtocol: kafka.SSL, TLS: kafka.TLSConfig{CAFile: "/nonexistent/ca.crt"}}, "tls.ca_file: open /nonexistent/ca.crt"},
		{kafka.Client{SecurityProtocol: kafka.SSL, TLS: kafka.TLSConfig{CertFile: "c.crt"}}, "cert_file and key_file go together"},
		{kafka.Client{TLS: kafka.TLSConfig{CAFile: "ca.crt"}}, "tls: set, but security_protocol PLAINTEXT does not use TLS"},
		{kafka.Client{SecurityProtocol: kafka.SSL, SASL: kafka.SASLConfig{Mechanism: "PLAIN"}}, "sasl: set, but security_protocol SSL does not use SASL"},
	} {
		err := tc.c.Resolve()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.c, err, tc.want)
		}
	}
}
