package collect

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the collectors', labelled by collector, vendor and tenant
// (and stream, or HTTP status, where they have one).
type Metrics struct {
	records, pages, refetched, produceErrors *prometheus.CounterVec
	remembered                               *prometheus.GaugeVec
	APIRequests                              *prometheus.CounterVec
	APIErrors                                *prometheus.CounterVec
	RateLimitRemaining                       *prometheus.GaugeVec
	RateLimitWaits                           *prometheus.CounterVec

	mu     sync.Mutex
	newest map[[4]string]time.Time
	upFns  []func() map[[3]string]float64
}

// setUp adds a source of scimwatch_collector_up (a runner's).
func (m *Metrics) setUp(f func() map[[3]string]float64) {
	m.mu.Lock()
	m.upFns = append(m.upFns, f)
	m.mu.Unlock()
}

// NewMetrics registers the collectors' metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	const ns, sub = "scimwatch", "collector"
	stream := []string{"collector", "vendor", "tenant", "stream"}
	who := []string{"collector", "vendor", "tenant"}
	m := &Metrics{
		records: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_total",
			Help: "Records fetched from the vendor and acknowledged by Kafka."}, stream),
		pages: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "pages_total",
			Help: "Pages fetched from the vendor."}, stream),
		refetched: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_refetched_total",
			Help: "Records fetched again (an overlap window, a page retried) and not produced again."}, stream),
		produceErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "produce_errors_total",
			Help: "Failed writes of collected records to Kafka; each is retried, and the cursor waits."}, stream),
		remembered: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "remembered_ids",
			Help: "Record ids remembered to skip records fetched again (bounded by max_remembered)."}, stream),
		APIRequests: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "api_requests_total",
			Help: "Requests to the vendor's API, by HTTP status (0: no answer)."}, append(who, "status")),
		APIErrors: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "api_errors_total",
			Help: "Failed requests to the vendor's API, by status: an HTTP status, timeout, network, malformed, token."}, append(who, "status")),
		RateLimitRemaining: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "rate_limit_remaining",
			Help: "Requests left in the vendor's rate-limit window, as its last answer said (Okta's X-Rate-Limit-Remaining)."}, who),
		RateLimitWaits: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rate_limit_waits_total",
			Help: "Waits for the vendor's rate limit: before it was hit (share) or after a 429 (throttled)."}, append(who, "reason")),
		newest: map[[4]string]time.Time{},
	}
	reg.MustRegister(lagCollector{m})
	return m
}

var upDesc = prometheus.NewDesc("scimwatch_collector_up",
	"1 while a collector polls; 0 once the vendor refused its credentials or rights on one of its streams, or one failed for longer than stale_after.",
	[]string{"collector", "vendor", "tenant"}, nil)

var lagDesc = prometheus.NewDesc("scimwatch_collector_cursor_lag_seconds",
	"Now minus the time of the newest record a stream has collected.", []string{"collector", "vendor", "tenant", "stream"}, nil)

// lagCollector computes the cursor lag when scraped, so that a stalled
// collector's lag grows though it updates nothing.
type lagCollector struct{ m *Metrics }

func (l lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc; ch <- upDesc }
func (l lagCollector) Collect(ch chan<- prometheus.Metric) {
	l.m.mu.Lock()
	now := time.Now()
	for k, t := range l.m.newest {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), k[0], k[1], k[2], k[3])
	}
	fns := slices.Clone(l.m.upFns)
	l.m.mu.Unlock()
	for _, f := range fns {
		for k, v := range f() {
			ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, v, k[0], k[1], k[2])
		}
	}
}

// streamMetrics are one stream's series, looked up once.
type streamMetrics struct {
	records, pages, refetched, produceErrors prometheus.Counter
	remembered                               prometheus.Gauge
	newest                                   func(time.Time)
}

func (m *Metrics) stream(c *Collector, stream string) streamMetrics {
	l := []string{c.Name, c.Vendor, c.Tenant, stream}
	return streamMetrics{
		records: m.records.WithLabelValues(l...), pages: m.pages.WithLabelValues(l...),
		refetched: m.refetched.WithLabelValues(l...), produceErrors: m.produceErrors.WithLabelValues(l...),
		remembered: m.remembered.WithLabelValues(l...),
		newest: func(t time.Time) {
			k := [4]string(l)
			m.mu.Lock()
			if t.After(m.newest[k]) {
				m.newest[k] = t
			}
			m.mu.Unlock()
		},
	}
}
