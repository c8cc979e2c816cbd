package ingest

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scimwatch/scimwatch/storage/clickhouse"
)

// Handler serves /metrics from g, /healthz (the process answers) and
// /readyz (Kafka and ClickHouse answer and migrations are applied; 503 with
// the reasons otherwise).
//
// Each of extra is a readiness check of another component of the same
// process (scimwatch run): /readyz answers 200 only when all pass.
func (in *Ingester) Handler(g prometheus.Gatherer, store *clickhouse.Store, extra ...func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		errs := []error{in.Ready(ctx, store)}
		for _, check := range extra {
			errs = append(errs, check(ctx))
		}
		if err := errors.Join(errs...); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
