package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is scimwatch's one HTTP server: /metrics from the process's
// registry, /healthz (the process answers), /readyz (every component that
// registered a check is ready), and what components add (Slack's
// interactions). Components register; the server owns the listener.
type Server struct {
	mux    *http.ServeMux
	mu     sync.Mutex
	checks []check
}

type check struct {
	name  string
	ready func(context.Context) error
}

// ReadyTimeout bounds one /readyz: a check that hangs (a broker that
// accepts and never answers) is not ready.
const ReadyTimeout = 2 * time.Second

// NewServer returns a server of g's metrics.
func NewServer(g prometheus.Gatherer) *Server {
	s := &Server{mux: http.NewServeMux()}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	return s
}

// Ready registers a component's readiness: /readyz answers 200 only when
// every registered check returns nil, and names the others' reasons.
func (s *Server) Ready(name string, ready func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, check{name, ready})
}

// Handle registers a component's endpoint.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler is the server's handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.mux }

// Check runs every readiness check, as /readyz does.
func (s *Server) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	s.mu.Lock()
	checks := append([]check(nil), s.checks...)
	s.mu.Unlock()
	var errs []error
	for _, c := range checks {
		if err := c.ready(ctx); err != nil {
			if !strings.HasPrefix(err.Error(), c.name+":") {
				err = fmt.Errorf("%s: %w", c.name, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.Check(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Serve listens on addr and serves until ctx ends; it returns the address
// it listens on (addr may name port 0) and a function that waits for the
// server to be shut down.
func (s *Server) Serve(ctx context.Context, addr string, logger *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("http.listen: %w", err)
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server", "err", err)
		}
	}()
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	logger.Info("serving metrics and health", "addr", ln.Addr().String())
	return ln.Addr().String(), func() {
		<-done
		stop()
	}, nil
}
