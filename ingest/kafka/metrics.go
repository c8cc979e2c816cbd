package kafka

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics of the ingest pipeline, registered on an injected registry.
type metrics struct {
	read         *prometheus.CounterVec
	normalized   *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	inserted     prometheus.Counter
	batchRows    prometheus.Histogram
	insertTime   prometheus.Histogram
	endToEnd     prometheus.Histogram
	lag          *prometheus.GaugeVec
	chErrors     prometheus.Counter
	kafkaErrors  *prometheus.CounterVec
	commits      *prometheus.CounterVec
	generations  prometheus.Counter
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
			Help: "Records sent to the dead-letter topic (or logged), by reason: invalid or too_large."}, []string{"topic", "reason"}),
		inserted: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_inserted_total",
			Help: "Events inserted into ClickHouse (acknowledged)."}),
		batchRows: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_rows",
			Help: "Events per ClickHouse insert.", Buckets: prometheus.ExponentialBuckets(10, 4, 8)}),
		insertTime: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "insert_duration_seconds",
			Help: "Time of one successful ClickHouse insert.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		endToEnd: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "end_to_end_seconds",
			Help: "Time from a record's Kafka timestamp to its events' insert being acknowledged.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "consumer_lag",
			Help: "Records in the partition after the last one read."}, []string{"topic", "partition"}),
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
