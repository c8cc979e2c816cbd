// Package testenv finds the real services integration tests run against:
// Apache Kafka, ClickHouse, Alertmanager and Prometheus, started by the
// scripts in .ci/ and named by environment variables. Without them a test is skipped, except
// under CI (CI=true), where a missing service fails the run.
package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func need(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		msg := what + " is not available: set " + name + " (./.ci/test.sh starts it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}

// Kafka returns the bootstrap address of the real broker.
func Kafka(t testing.TB) string { return need(t, "SCIMWATCH_TEST_KAFKA", "Apache Kafka") }

// ClickHouse returns the native-protocol address of the real server.
func ClickHouse(t testing.TB) string {
	return need(t, "SCIMWATCH_TEST_CLICKHOUSE", "ClickHouse")
}

// ClickHouseHTTP returns the HTTP address of the same server, where the
// tests read results as the server itself formats them.
func ClickHouseHTTP(t testing.TB) string {
	return need(t, "SCIMWATCH_TEST_CLICKHOUSE_HTTP", "ClickHouse's HTTP interface")
}

// ClickHouseRules returns the scheduled rules' reader of the test server
// (.ci/clickhouse.sh): a read-only user that may read one database.
func ClickHouseRules(t testing.TB) (user, password, database string) {
	v := need(t, "SCIMWATCH_TEST_CLICKHOUSE_RULES", "ClickHouse's rules user")
	cred, database, _ := strings.Cut(v, "@")
	user, password, _ = strings.Cut(cred, ":")
	return user, password, database
}

// CHDB returns the Python that runs chDB (ClickHouse 26 in-process, from
// PyPI's chdb-core; .ci/chdb.sh installs it), for the tests that run
// scimwatch's SQL on a current ClickHouse too.
func CHDB(t testing.TB) string {
	return need(t, "SCIMWATCH_TEST_CHDB", "chDB (ClickHouse 26)")
}

// FreePorts returns n ports free at once on 127.0.0.1, below the range the
// kernel hands out to outgoing connections (32768 and up on Linux): a
// server the test stops and starts again finds its ports still free,
// where an ephemeral port may meanwhile be the source port of a client
// retrying its connection.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			t.Fatal("no free ports below 32768")
		}
		p := 20000 + mrand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		held = append(held, l)
		out = append(out, p)
	}
	return out
}

// OwnClickHouse starts a ClickHouse server of the test's own with
// .ci/clickhouse.sh, on ports of its own, stopped at the end of the test:
// for tests that stop and restart it (ctl("stop"), ctl("start"); its data
// is kept). It returns its native-protocol address.
func OwnClickHouse(t testing.TB) (addr string, ctl func(verb string)) {
	t.Helper()
	ClickHouse(t) // skipped (or failed under CI) like the shared one
	script := ClickHouseScript(t)
	// Both ports below the ephemeral range: the HTTP port was once the
	// native port + 1, which a busy machine could have given to another
	// socket while the server was down.
	ports := FreePorts(t, 2)
	env := append(os.Environ(), "SCIMWATCH_CH_DIR="+t.TempDir(), "SCIMWATCH_CH_PORT="+strconv.Itoa(ports[0]),
		"SCIMWATCH_CH_HTTP_PORT="+strconv.Itoa(ports[1]))
	ctl = func(verb string) {
		t.Helper()
		cmd := exec.Command(script, verb)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("clickhouse.sh %s: %v: %s", verb, err, out)
		}
	}
	ctl("start")
	t.Cleanup(func() { ctl("stop") })
	return "127.0.0.1:" + strconv.Itoa(ports[0]), ctl
}

// ClickHouseScript returns the path of .ci/clickhouse.sh, which stops and
// restarts the test server.
func ClickHouseScript(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", ".ci", "clickhouse.sh")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Name returns a unique name with prefix, for a test's own database,
// topic or consumer group.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Alertmanager returns the base URL of the real Alertmanager
// (.ci/alertmanager.sh).
func Alertmanager(t testing.TB) string {
	return need(t, "SCIMWATCH_TEST_ALERTMANAGER", "Prometheus Alertmanager")
}

// Prometheus returns the base URL of the real Prometheus
// (.ci/prometheus.sh) and the file of targets it scrapes.
func Prometheus(t testing.TB) (url, targets string) {
	return need(t, "SCIMWATCH_TEST_PROMETHEUS", "Prometheus"), need(t, "SCIMWATCH_TEST_PROMETHEUS_TARGETS", "Prometheus's targets file")
}

// WaitFor polls cond until it holds, failing the test after bound: the
// bound is a failure limit, not a measurement, and the condition is the one
// the test asserts on.
func WaitFor(t testing.TB, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CreateTopic creates a topic on the broker, retrying while the broker
// starts, and waits until every partition has a leader, so that the first
// produce does not race the metadata.
func CreateTopic(t testing.TB, broker, name string, partitions int) {
	t.Helper()
	CreateTopicWith(t, broker, name, partitions, nil)
}

// CreateTopicWith is CreateTopic with topic configs (max.message.bytes,
// for one).
func CreateTopicWith(t testing.TB, broker, name string, partitions int, configs map[string]string) {
	t.Helper()
	var entries []kafkago.ConfigEntry
	for k, v := range configs {
		entries = append(entries, kafkago.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	var err error
	for i := 0; i < 40; i++ {
		var conn *kafkago.Conn
		if conn, err = kafkago.Dial("tcp", broker); err == nil {
			err = conn.CreateTopics(kafkago.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: entries})
			if err == nil || errors.Is(err, kafkago.TopicAlreadyExists) {
				var ps []kafkago.Partition
				ps, err = conn.ReadPartitions(name)
				if err == nil && len(ps) != partitions {
					err = fmt.Errorf("%d of %d partitions", len(ps), partitions)
				}
				for _, p := range ps {
					if p.Leader.Port == 0 && err == nil {
						err = fmt.Errorf("partition %d has no leader", p.ID)
					}
				}
			}
			conn.Close()
			if err == nil {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("creating topic %s: %v", name, err)
}

// KafkaSASLSSL is the same broker's SASL_SSL listener (.ci/kafka.sh): its
// address, the CA its certificate is signed by, and its users (test
// fixtures): SCRAM (SHA-256 and SHA-512), PLAIN, and the Event Hubs shape
// (PLAIN, user $ConnectionString, the connection string as the password),
// all super users, and a SCRAM-SHA-512 user with no rights but the ACLs a
// test grants it.
type KafkaSASLSSL struct {
	Addr, CAFile             string
	SCRAMUser, SCRAMPassword string
	PlainUser, PlainPassword string
	ACLUser, ACLPassword     string
	// MTLSAddr is an SSL listener that requires a client certificate.
	MTLSAddr, ClientCert, ClientKey string
	EventHubsConnectionString       string
}

// KafkaSecure returns the broker's SASL_SSL listener.
func KafkaSecure(t testing.TB) KafkaSASLSSL {
	k := KafkaSASLSSL{Addr: need(t, "SCIMWATCH_TEST_KAFKA_SASL_SSL", "Kafka's SASL_SSL listener"), CAFile: need(t, "SCIMWATCH_TEST_KAFKA_CA", "the test CA")}
	k.SCRAMUser, k.SCRAMPassword, _ = strings.Cut(need(t, "SCIMWATCH_TEST_KAFKA_SCRAM", "Kafka's SCRAM user"), ":")
	k.PlainUser, k.PlainPassword, _ = strings.Cut(need(t, "SCIMWATCH_TEST_KAFKA_PLAIN", "Kafka's PLAIN user"), ":")
	k.MTLSAddr = need(t, "SCIMWATCH_TEST_KAFKA_MTLS", "Kafka's mTLS listener")
	k.ClientCert, k.ClientKey = need(t, "SCIMWATCH_TEST_KAFKA_CLIENT_CERT", "the test client certificate"), need(t, "SCIMWATCH_TEST_KAFKA_CLIENT_KEY", "its key")
	k.ACLUser, k.ACLPassword, _ = strings.Cut(need(t, "SCIMWATCH_TEST_KAFKA_ACL_USER", "Kafka's least-privilege user"), ":")
	k.EventHubsConnectionString = need(t, "SCIMWATCH_TEST_KAFKA_EVENTHUBS", "Kafka's Event Hubs-shaped user")
	return k
}

// ClickHouseSecure is the same server's native protocol over TLS
// (.ci/clickhouse.sh: tcp_port_secure), the CA its certificate is signed
// by, and the writer of the TLS tests: a password user that may use one
// database.
type ClickHouseSecure struct {
	Addr, CAFile                       string
	Writer, WriterPassword, WriterBase string
}

// ClickHouseTLS returns the server's TLS endpoint and writer.
func ClickHouseTLS(t testing.TB) ClickHouseSecure {
	c := ClickHouseSecure{Addr: need(t, "SCIMWATCH_TEST_CLICKHOUSE_TLS", "ClickHouse's TLS port"), CAFile: need(t, "SCIMWATCH_TEST_CLICKHOUSE_CA", "ClickHouse's test CA")}
	cred, db, _ := strings.Cut(need(t, "SCIMWATCH_TEST_CLICKHOUSE_WRITER", "ClickHouse's writer user"), "@")
	c.Writer, c.WriterPassword, _ = strings.Cut(cred, ":")
	c.WriterBase = db
	return c
}

// OtherCA returns a CA certificate (PEM) that signed nothing the test
// services have: a client that trusts it alone must refuse them.
func OtherCA(t testing.TB) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
