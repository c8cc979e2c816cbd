package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/demo/synth"
	"github.com/scimwatch/scimwatch/ingest/source"
	"github.com/scimwatch/scimwatch/internal/testenv"
)

// manyTargets is an Okta record naming n targets ({} each: 200,000 of them
// are 600 KB, under max_record_bytes).
func manyTargets(id string, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"uuid":%q,"published":"2026-11-20T10:00:00.000Z","eventType":"group.user_membership.add","actor":{"id":"00uATTACKER","type":"User"},"outcome":{"result":"SUCCESS"},"target":[`, id)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("{}")
	}
	b.WriteString("]}")
	return b.Bytes()
}

// notJSON is an invalid record of n bytes.
func notJSON(n int) []byte { return bytes.Repeat([]byte("x"), n) }

// produceTo writes values to topic, round robin over its partitions, in
// batches the broker's default 1 MB takes (a larger record alone).
func (h *harness) produceTo(topic string, values ...[]byte) {
	h.t.Helper()
	batchBytes := int64(1 << 20)
	for _, v := range values {
		batchBytes = max(batchBytes, int64(len(v))+64<<10)
	}
	w := &kafkago.Writer{Addr: kafkago.TCP(h.brokers...), Topic: topic, Transport: &kafkago.Transport{}, Balancer: &kafkago.RoundRobin{},
		BatchTimeout: 5 * time.Millisecond, BatchSize: 1000, BatchBytes: batchBytes, RequiredAcks: kafkago.RequireAll}
	defer w.Close()
	msgs := make([]kafkago.Message, len(values))
	for i, v := range values {
		msgs[i] = kafkago.Message{Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		h.t.Fatal(err)
	}
}

// TestPoisonRecordsDoNotStopIngest: each record that once stopped ingest
// for every topic, retried for ever while /readyz said 200, is now
// isolated, dead-lettered in a form the broker takes, and counted, and the
// records after it are stored.
func TestPoisonRecordsDoNotStopIngest(t *testing.T) {
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	// A second topic allows records of 30 MB, as some do; the dead-letter
	// topic keeps the broker's default of 1 MB.
	big := testenv.Name("audit_big")
	testenv.CreateTopicWith(t, h.brokers[0], big, 1, map[string]string{"max.message.bytes": strconv.Itoa(30 << 20)})
	cfg := h.config()
	cfg.Kafka.Topics = append(cfg.Kafka.Topics, TopicConfig{Name: big, Source: source.SourceAuto, Tenant: "acme"})
	cfg.Kafka.MaxRecordBytes = 30 << 20
	cfg.Batch.MaxRows = 100000
	cfg.Batch.MaxWait = time.Second
	// Past the default bound, so that the record reaches ClickHouse whole
	// and ClickHouse refuses it (the bound's own test is below).
	cfg.Limits.MaxTargets = 300000

	recs := synth.Records(11, 400, 0.6)
	refused := manyTargets("poison-targets", 200000)
	underMax := notJSON(1048450) // invalid, just under the topic's default 1 MB
	huge := notJSON(20 << 20)    // invalid, 20 MB, on the topic that allows 30
	h.produce(recs[:200]...)
	h.produce(refused, underMax)
	h.produceTo(big, huge)
	h.produce(recs[200:]...)
	r := h.start(cfg)

	// ClickHouse writes the events table before its views: the refused
	// record's event may be there from a failed attempt (the views never
	// saw it). The 400 others must be.
	h.waitFor("the 400 ordinary events around the poison records", 120*time.Second, func() bool {
		return h.count("SELECT count() FROM %s.events_unique WHERE id != 'poison-targets'") == 400
	})
	h.waitFor("three dead letters", 60*time.Second, func() bool {
		return testutil.ToFloat64(r.in.metrics.deadLettered.WithLabelValues(h.topic, reasonRefused))+
			testutil.ToFloat64(r.in.metrics.deadLettered.WithLabelValues(h.topic, reasonInvalid))+
			testutil.ToFloat64(r.in.metrics.deadLettered.WithLabelValues(big, reasonInvalid)) == 3
	})
	if err := r.in.stall.check(); err != nil {
		t.Errorf("readiness after the poison records: %v", err)
	}
	r.stop()

	byOffset := map[string]kafkago.Message{}
	for _, m := range h.deadLetters(3) {
		byOffset[headerValue(m, hdrTopic)+"/"+headerValue(m, hdrReason)+"/"+headerValue(m, hdrTruncated)] = m
		if size(&m) > cfg.Kafka.DeadLetterMaxBytes {
			t.Errorf("dead letter of %d bytes, over dead_letter_max_bytes", size(&m))
		}
	}
	check := func(key string, orig []byte, errText string) {
		t.Helper()
		m, ok := byOffset[key]
		if !ok {
			t.Errorf("no dead letter %s among %v", key, keys(byOffset))
			return
		}
		if !strings.Contains(headerValue(m, hdrError), errText) {
			t.Errorf("%s: error %q, want it to say %q", key, headerValue(m, hdrError), errText)
		}
		if len(m.Value) == len(orig) {
			if !bytes.Equal(m.Value, orig) {
				t.Errorf("%s: value changed", key)
			}
			return
		}
		sum := sha256.Sum256(orig)
		if headerValue(m, hdrSHA256) != hex.EncodeToString(sum[:]) || !bytes.HasPrefix(orig, m.Value) {
			t.Errorf("%s: a cut value must be the record's start, with its SHA-256", key)
		}
	}
	check(h.topic+"/"+reasonRefused+"/", refused, "Memory limit")
	check(h.topic+"/"+reasonInvalid+"/1048450", underMax, "invalid")
	check(big+"/"+reasonInvalid+"/"+strconv.Itoa(20<<20), huge, "invalid")
	if n := testutil.ToFloat64(r.in.metrics.deadLetterCut.WithLabelValues(h.topic)) + testutil.ToFloat64(r.in.metrics.deadLetterCut.WithLabelValues(big)); n != 2 {
		t.Errorf("%v dead letters counted as cut, want 2", n)
	}
	if n := testutil.ToFloat64(r.in.metrics.refused); n < 1 {
		t.Errorf("refusals %v, want at least 1", n)
	}
}

// TestBoundedRecordIsStoredTrimmed: with the default limits, the record of
// 200,000 targets is stored with 64, and says what it lost.
func TestBoundedRecordIsStoredTrimmed(t *testing.T) {
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	h.produce(manyTargets("bounded-targets", 200000))
	h.produce(synth.Records(12, 10, 0.6)...)
	cfg := h.config()
	cfg.Kafka.MaxRecordBytes = 1 << 20
	r := h.start(cfg)
	h.waitFor("11 events", 60*time.Second, func() bool { return h.uniqueEvents() == 11 })
	if n := h.count("SELECT toUInt64(sum(length(target_ids))) FROM %s.events WHERE id = 'bounded-targets'"); n != 64 {
		t.Errorf("%d targets stored, want 64", n)
	}
	if n := h.count("SELECT toUInt64(sum(trimmed_targets)) FROM %s.events WHERE id = 'bounded-targets'"); n != 200000-64 {
		t.Errorf("trimmed_targets %d, want %d", n, 200000-64)
	}
	h.waitFor("the trim counted", 10*time.Second, func() bool {
		return testutil.ToFloat64(r.in.metrics.trimmed.WithLabelValues(h.topic, "targets")) == 200000-64
	})
}

// TestDeadLetterTopicSmallerThanConfigured: a dead-letter topic that takes
// less than dead_letter_max_bytes refuses the first write; the letter is cut
// further until it is taken.
func TestDeadLetterTopicSmallerThanConfigured(t *testing.T) {
	h := newHarness(t, []string{testenv.Kafka(t)}, testenv.ClickHouse(t))
	small := testenv.Name("dead_small")
	testenv.CreateTopicWith(t, h.brokers[0], small, 1, map[string]string{"max.message.bytes": "100000"})
	cfg := h.config()
	cfg.Kafka.DeadLetterTopic = small
	cfg.Kafka.MaxRecordBytes = 1 << 20
	h.produce(notJSON(900000))
	h.produce(synth.Records(13, 10, 0.6)...)
	r := h.start(cfg)
	h.waitFor("10 events", 60*time.Second, func() bool { return h.uniqueEvents() == 10 })
	h.waitFor("the dead letter", 60*time.Second, func() bool {
		return testutil.ToFloat64(r.in.metrics.deadLettered.WithLabelValues(h.topic, reasonInvalid)) == 1
	})
	r.stop()
	h.dlq = small
	m := h.deadLetters(1)[0]
	if headerValue(m, hdrTruncated) != "900000" || len(m.Value) == 0 || len(m.Value) >= 100000 {
		t.Errorf("dead letter: %d bytes of value, truncated-from %q", len(m.Value), headerValue(m, hdrTruncated))
	}
}

func keys(m map[string]kafkago.Message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
