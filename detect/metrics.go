package detect

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	events       prometheus.Counter
	late         prometheus.Counter
	repeats      prometheus.Counter
	future       prometheus.Counter
	alerts       *prometheus.CounterVec
	evalErrors   *prometheus.CounterVec
	evictions    *prometheus.CounterVec
	keys         *prometheus.GaugeVec
	sinkErrors   prometheus.Counter
	pending      prometheus.Gauge
	refusedSince prometheus.Gauge
	dropped      prometheus.Counter
	rules        prometheus.Gauge
	warm         *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	const ns, sub = "scimwatch", "detect"
	return &metrics{
		events: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_total", Help: "Events given to the engine."}),
		late: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "late_events_total",
			Help: "Events later than allowed_lateness, evaluated out of order by thresholds and sequences."}),
		repeats: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "repeated_events_total",
			Help: "Events seen before within repeat_horizon (same tenant, source and id: a collector's page fetched again, a hook delivered twice), not evaluated again."}),
		future: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "future_events_total",
			Help: "Events dated more than max_future_skew ahead of the wall clock, placed at the current event time."}),
		alerts: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "alerts_total",
			Help: "Alerts opened, by rule."}, []string{"rule"}),
		evalErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "evaluation_errors_total",
			Help: "Rule expressions that failed at run time, by rule."}, []string{"rule"}),
		evictions: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "state_evictions_total",
			Help: "State evicted past its bound, by rule and kind: window, sequence, dedup (max_keys), event_id (max_repeat_ids, rule empty), term (max_terms), key (max_keys), series (max_keys or max_baseline_hours)."}, []string{"rule", "kind"}),
		keys: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "state_keys",
			Help: "State held, by rule and kind: window, sequence, dedup, term, key, series, hour (updated each minute of event time)."}, []string{"rule", "kind"}),
		sinkErrors: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "sink_errors_total",
			Help: "Attempts to hand alerts over that the sink refused; the alerts were kept and handed over again, with backoff."}),
		pending: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "alerts_pending",
			Help: "Alerts raised and not yet accepted by the sink (alerting), held while it refuses them."}),
		refusedSince: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "sink_refusing_since_seconds",
			Help: "Unix time since which the sink refuses alerts (alerting's store down); 0 while it takes them."}),
		dropped: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "alerts_dropped_total",
			Help: "Alerts dropped because the sink refused alerts past max_pending_alerts."}),
		rules: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "rules", Help: "Rules loaded."}),
		warm: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "history_warm",
			Help: "1 when a rule that learns from history (new_term, baseline) has learned from ClickHouse; 0 while it learns from the stream alone."}, []string{"rule"}),
	}
}
