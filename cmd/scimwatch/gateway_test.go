package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/ingest/scimgateway"
	"github.com/scimwatch/scimwatch/internal/testenv"
)

// TestScimGatewayToKafka: scimwatch scim-gateway in front of a SCIM app
// over TLS records a request to the real Kafka, named by its token's
// fingerprint, and refuses what its rule denies.
func TestScimGatewayToKafka(t *testing.T) {
	broker := testenv.Kafka(t)
	topic := testenv.Name("scim-gw")
	createTopic(t, broker, topic, 1)
	app := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u-7","userName":"lee@acme.example","active":true}`)
	}))
	defer app.Close()
	ca := filepath.Join(t.TempDir(), "app-ca.pem")
	_ = os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: app.Certificate().Raw}), 0o600)
	ports := testenv.FreePorts(t, 2)
	gwAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	cfg := writeFile(t, "gateway.yaml", fmt.Sprintf(`kafka:
  brokers: [%s]
  topics: [{name: %s, source: scim}]
http: {listen: "127.0.0.1:%d"}
scim_gateway:
  listen: %q
  plain_http: true
  upstream: %s
  upstream_tls: {ca_file: %s}
  tenant: acme
  app: Payroll
  topic: %s
  rules:
    - {name: no-deletes, deny: 'method == "DELETE"'}
`, broker, topic, ports[1], gwAddr, app.URL, ca, topic))
	ctx, cancel := context.WithCancel(context.Background())
	errs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"scim-gateway", "--config", cfg}, strings.NewReader(""), io.Discard, errs)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("scim-gateway exited %d: %s", code, errs.String())
		}
	}()
	testenv.WaitFor(t, "the gateway listening", 30*time.Second, func() bool {
		c, err := net.Dial("tcp", gwAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	send := func(method string) int {
		req, _ := http.NewRequest(method, "http://"+gwAddr+"/scim/v2/Users", strings.NewReader(`{"userName":"lee@acme.example","password":"pw-Secret-1"}`))
		req.Header.Set("Authorization", "Bearer gw-token-1234")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("POST"); code != 201 {
		t.Fatalf("POST: %d", code)
	}
	if code := send("DELETE"); code != 403 {
		t.Fatalf("DELETE: %d, want 403", code)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: 0, MaxWait: 250 * time.Millisecond})
	defer r.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	var got []string
	for len(got) < 2 {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("reading the records: %v (got %v)", err, got)
		}
		got = append(got, string(m.Value))
	}
	fp := scimgateway.Fingerprint("Bearer gw-token-1234")
	for _, rec := range got {
		if !strings.Contains(rec, `"client_id":"`+fp+`"`) || strings.Contains(rec, "gw-token-1234") || strings.Contains(rec, "pw-Secret-1") {
			t.Errorf("record %s", rec)
		}
	}
	if !strings.Contains(got[0], `"status":201`) || !strings.Contains(got[1], `"denied_by":"no-deletes"`) {
		t.Errorf("records %v", got)
	}
}
