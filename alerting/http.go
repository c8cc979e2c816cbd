package alerting

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the notifier's endpoints: /metrics from reg, /healthz
// (200 while the process runs), /readyz (200 once the stored state is
// loaded and alerts are accepted), and the extra handlers by path (Slack's
// interactions at /slack/interactions).
func (n *Notifier) Handler(reg prometheus.Gatherer, extra map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.Ready() {
			http.Error(w, "loading the stored alerts", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	for path, h := range extra {
		mux.Handle(path, h)
	}
	return mux
}
