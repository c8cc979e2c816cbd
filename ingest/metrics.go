package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scimwatch/scimwatch/ingest/source"
)

// metrics of the ingest pipeline, registered on an injected registry.
type metrics struct {
	read         *prometheus.CounterVec
	normalized   *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	trimmed      *prometheus.CounterVec
	refused      prometheus.Counter
	// Dead letters cut to fit the broker, and those it refused even then
	// (logged instead).
	deadLetterCut    *prometheus.CounterVec
	deadLetterLogged prometheus.Counter
	stuckSince       prometheus.Gauge
	inserted         prometheus.Counter
	batchRows        prometheus.Histogram
	insertTime       prometheus.Histogram
	endToEnd         prometheus.Histogram
	lag              *prometheus.GaugeVec
	chErrors         prometheus.Counter
	kafkaErrors      *prometheus.CounterVec
	commits          *prometheus.CounterVec
	generations      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	const ns, sub = "scimwatch", "ingest"
	return &metrics{
		read: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_read_total",
			Help: "Kafka records read."}, []string{"topic"}),
		normalized: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_normalized_total",
			Help: "Kafka records normalized into one or more events."}, []string{"topic"}),
		deadLettered: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_dead_lettered_total",
			Help: "Records sent to the dead-letter topic (or logged), by reason: invalid, too_large, or refused (by ClickHouse)."}, []string{"topic", "reason"}),
		trimmed: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "trimmed_total",
			Help: "What normalization cut past the limits, by topic and kind: events (trimmed at all), targets and changes left out, strings shortened, times outside the sane range replaced by the receive time, unread (fields of the record the normalizer could not read)."}, []string{"topic", "kind"}),
		refused: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "clickhouse_refusals_total",
			Help: "Inserts ClickHouse refused for what they held (not an outage): the batch is split until the record that causes it is found and dead-lettered."}),
		deadLetterCut: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dead_letters_cut_total",
			Help: "Dead letters whose value (or the record's own headers) was cut to fit what the broker accepts; headers give the value's length and SHA-256."}, []string{"topic"}),
		deadLetterLogged: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dead_letters_logged_total",
			Help: "Dead letters the broker refused even without their value: written to the log (where the record is and why) instead."}),
		stuckSince: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "stuck_since_seconds",
			Help: "Unix time of the first failed attempt to write the batch in flight (to ClickHouse or the dead-letter topic); 0 while writes succeed."}),
		inserted: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_inserted_total",
			Help: "Events inserted into ClickHouse (acknowledged)."}),
		batchRows: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_rows",
			Help: "Events per ClickHouse insert.", Buckets: prometheus.ExponentialBuckets(10, 4, 8)}),
		insertTime: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "insert_duration_seconds",
			Help: "Time of one successful ClickHouse insert.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		endToEnd: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "end_to_end_seconds",
			Help: "Time from a record's Kafka timestamp to its events' insert being acknowledged.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_lag",
			Help: "Records in the partition after the last one committed, that is not yet in ClickHouse (asked of the broker every few seconds, also while nothing can be written)."}, []string{"topic", "partition"}),
		chErrors: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "clickhouse_errors_total",
			Help: "Failed ClickHouse inserts (each is retried)."}),
		kafkaErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "kafka_errors_total",
			Help: "Kafka errors, by operation: fetch, group, dead_letter."}, []string{"op"}),
		commits: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "offset_commits_total",
			Help: "Offset commits after acknowledged inserts, by result: ok, or stale when the generation ended (a rebalance)."}, []string{"result"}),
		generations: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "group_generations_total",
			Help: "Consumer group generations joined (one per rebalance)."}),
	}
}

// countTrims counts what source.Limits cut from one record's events.
func (m *metrics) countTrims(topic string, tr source.Trims) {
	for _, k := range []struct {
		kind string
		n    int
	}{{"events", tr.Events}, {"targets", tr.Targets}, {"changes", tr.Changes}, {"strings", tr.Strings}, {"times", tr.Times}, {"unread", tr.Unread}} {
		if k.n > 0 {
			m.trimmed.WithLabelValues(topic, k.kind).Add(float64(k.n))
		}
	}
}
