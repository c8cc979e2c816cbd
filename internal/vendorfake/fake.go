// Package vendorfake serves the identity vendors' log APIs locally, over
// real HTTP(S), as their documentation describes them, limits and failures
// included: Okta's System Log API and OAuth token endpoint, Microsoft's
// identity platform and Graph audit logs, Google's OAuth token endpoint
// and Reports API. The collectors' tests, the end-to-end tests and the
// demo run against them; no machine here reaches the vendors.
package vendorfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"
)

// Fault is a failure a fake answers a request with.
type Fault struct {
	Status int
	// Header is added to the answer (Retry-After, say).
	Header http.Header
	// Body is the answer; Malformed sends a page that is not JSON.
	Body      string
	Malformed bool
	// Delay holds the answer back (a timeout).
	Delay time.Duration
}

// faults is a queue of failures the next requests get.
type faults struct {
	mu sync.Mutex
	q  []Fault
}

// Fail makes the next n requests to the API fail with f.
func (f *faults) Fail(n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.q = append(f.q, fault)
	}
}

// take answers with the next queued fault, if any, and reports whether it
// did.
func (f *faults) take(w http.ResponseWriter) bool {
	f.mu.Lock()
	if len(f.q) == 0 {
		f.mu.Unlock()
		return false
	}
	ft := f.q[0]
	f.q = f.q[1:]
	f.mu.Unlock()
	time.Sleep(ft.Delay)
	for k, vs := range ft.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if ft.Malformed {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`[{"uuid": "cut-off-mid`))
		return true
	}
	if ft.Status == 0 {
		ft.Status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ft.Status)
	_, _ = w.Write([]byte(ft.Body))
	return true
}

// server is an httptest server with its CA written to a file, for
// configs' tls.ca_file.
type server struct {
	srv    *httptest.Server
	CAFile string
}

func start(h http.Handler, dir string) (*server, error) {
	s := httptest.NewTLSServer(h)
	f, err := os.CreateTemp(dir, "vendorfake-ca-*.pem")
	if err != nil {
		s.Close()
		return nil, err
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}); err != nil {
		s.Close()
		return nil, err
	}
	return &server{srv: s, CAFile: f.Name()}, nil
}

// URL is the server's base URL.
func (s *server) URL() string { return s.srv.URL }

// Close stops the server and removes its CA file.
func (s *server) Close() {
	s.srv.Close()
	_ = os.Remove(s.CAFile)
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tokens are access tokens issued, with their expiry.
type tokens struct {
	mu      sync.Mutex
	issued  map[string]time.Time
	revoked bool
	Issued  int // how many were issued
}

func (t *tokens) issue(ttl time.Duration) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.issued == nil {
		t.issued = map[string]time.Time{}
	}
	tok := newToken()
	t.issued[tok] = time.Now().Add(ttl)
	t.Issued++
	return tok
}

// valid says whether tok was issued, is not expired, and the grant not
// revoked.
func (t *tokens) valid(tok string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.issued[tok]
	return ok && !t.revoked && time.Now().Before(exp)
}

func (t *tokens) revoke(b bool) {
	t.mu.Lock()
	t.revoked = b
	t.mu.Unlock()
}

func (t *tokens) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.Issued
}

// expire ends every token issued so far, as a token past its lifetime:
// the API refuses it with 401 though the client thinks it still good.
func (t *tokens) expire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.issued {
		t.issued[k] = time.Time{}
	}
}
