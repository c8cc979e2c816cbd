package alerting

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	alerts         *prometheus.CounterVec
	open           *prometheus.GaugeVec
	notifications  *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	falsePositives *prometheus.CounterVec
	storeErrors    prometheus.Counter
	dropped        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	const ns, sub = "scimwatch", "alerting"
	return &metrics{
		alerts: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "alerts_total",
			Help: "Alerts reaching a status, by rule, severity and status."}, []string{"rule", "severity", "status"}),
		open: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "alerts_open",
			Help: "Alerts firing or acknowledged, by severity."}, []string{"severity"}),
		notifications: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "notifications_total",
			Help: "Notifications sent or failed, by integration."}, []string{"integration", "result"}),
		latency: f.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "notification_latency_seconds",
			Help:    "From the detector raising or changing an alert to the integration's call, by integration.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"integration"}),
		falsePositives: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "false_positives_total",
			Help: "Alerts marked false positive by people, by rule: the noisy rules."}, []string{"rule"}),
		storeErrors: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "store_errors_total",
			Help: "Failed writes or reads of the alert store."}),
		dropped: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "notifications_evicted_total",
			Help: "Notifications dropped from memory past max_open_alerts (they stay stored)."}),
	}
}
