package detect

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	events     prometheus.Counter
	late       prometheus.Counter
	alerts     *prometheus.CounterVec
	evalErrors *prometheus.CounterVec
	evictions  *prometheus.CounterVec
	rules      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	const ns, sub = "scimwatch", "detect"
	return &metrics{
		events: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_total", Help: "Events given to the engine."}),
		late: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "late_events_total",
			Help: "Events later than allowed_lateness, evaluated out of order."}),
		alerts: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "alerts_total",
			Help: "Alerts opened, by rule."}, []string{"rule"}),
		evalErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "evaluation_errors_total",
			Help: "Rule expressions that failed at run time, by rule."}, []string{"rule"}),
		evictions: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "state_evictions_total",
			Help: "Keys evicted past max_keys, by rule and kind: window, sequence, dedup."}, []string{"rule", "kind"}),
		rules: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "rules", Help: "Rules loaded."}),
	}
}
