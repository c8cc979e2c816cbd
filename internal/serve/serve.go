// Package serve runs the HTTP(S) endpoints scimwatch exposes to other
// systems (Okta's Event Hooks, the SCIM gateway): bounded timeouts and
// header sizes, TLS unless a proxy in front terminates it, and a graceful
// stop when the context ends.
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// TLS is an endpoint's certificate, or none (Plain) behind a proxy that
// terminates TLS.
type TLS struct {
	CertFile, KeyFile string
	Plain             bool
}

// Serve listens on addr and serves h until ctx ends; it returns the
// address bound and a wait that returns once the server has stopped.
func Serve(ctx context.Context, addr string, h http.Handler, tls TLS, timeout time.Duration, logger *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: timeout, WriteTimeout: 2 * timeout,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if tls.Plain {
			err = srv.Serve(ln)
		} else {
			err = srv.ServeTLS(ln, tls.CertFile, tls.KeyFile)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serving", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr().String(), func() { <-done }, nil
}
