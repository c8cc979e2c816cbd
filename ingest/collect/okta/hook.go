package okta

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	json "github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scimwatch/scimwatch/ingest/collect"
	"github.com/scimwatch/scimwatch/internal/secret"
	"github.com/scimwatch/scimwatch/internal/serve"
)

// HookVendor is the Event Hooks collectors' vendor label.
const HookVendor = "okta_hook"

// HookConfig is an endpoint for one Okta org's Event Hooks.
type HookConfig struct {
	Name   string `yaml:"name"`
	Tenant string `yaml:"tenant"`
	Topic  string `yaml:"topic"`
	// Listen is the endpoint's address, Path its path.
	Listen string `yaml:"listen"`
	Path   string `yaml:"path"`
	// Header is the authorization header the hook's definition in Okta
	// sends (default Authorization), and the secret it carries, from the
	// environment or a file.
	Header     string `yaml:"header"`
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
	// CertFile and KeyFile are the endpoint's certificate: Okta delivers
	// to HTTPS only. PlainHTTP serves plain HTTP instead, for a proxy in
	// front that terminates TLS.
	CertFile  string `yaml:"cert_file"`
	KeyFile   string `yaml:"key_file"`
	PlainHTTP bool   `yaml:"plain_http"`
	// MaxBodyBytes bounds a delivery (default 4 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Defaults fills what is unset.
func (c *HookConfig) Defaults() {
	if c.Name == "" && c.Tenant != "" {
		c.Name = HookVendor + "-" + c.Tenant
	}
	if c.Path == "" {
		c.Path = "/okta/event-hook"
	}
	if c.Header == "" {
		c.Header = "Authorization"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 4 << 20
	}
}

// Validate reports every problem, each prefixed with p.
func (c *HookConfig) Validate(p string) []error {
	var errs []error
	add := func(f string, a ...any) { errs = append(errs, fmt.Errorf(p+f, a...)) }
	if c.Tenant == "" {
		add(".tenant: required")
	}
	if c.Topic == "" {
		add(".topic: required")
	}
	if c.Listen == "" {
		add(".listen: required (the address Okta delivers to, behind its public name)")
	}
	if c.SecretEnv == "" && c.SecretFile == "" {
		add(": secret_env or secret_file: the authorization secret the hook sends is required")
	}
	if c.PlainHTTP == (c.CertFile != "" || c.KeyFile != "") {
		add(": cert_file and key_file (Okta delivers to HTTPS only), or plain_http: true behind a proxy that terminates TLS")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		add(": cert_file and key_file go together")
	}
	if c.MaxBodyBytes < 1024 {
		add(".max_body_bytes: at least 1024")
	}
	return errs
}

// Hook is an Event Hooks endpoint: it answers Okta's one-time
// verification, checks the secret of every request (in constant time),
// and produces each delivered event before it answers 200, within Okta's
// 3-second timeout; Okta delivers again what it did not get 200 for, and
// a delivery that repeats is skipped (or, after a restart, a repeat that
// ingest stores once and the detector counts once).
type Hook struct {
	cfg       HookConfig
	collector *collect.Collector
	producer  Producer
	secret    [32]byte
	log       *slog.Logger
	requests  *prometheus.CounterVec
}

// Producer is where a delivery's events go: collect.Runner.
type Producer interface {
	Produce(ctx context.Context, c *collect.Collector, recs []collect.Record) error
}

// Timeout is how long a delivery may take to reach Kafka: Okta waits 3 s.
var Timeout = 2500 * time.Millisecond

// NewHook returns the endpoint; the secret is read now.
func NewHook(c HookConfig, reg prometheus.Registerer, logger *slog.Logger) (*Hook, *collect.Collector, error) {
	s, err := secret.Read("secret", c.SecretEnv, c.SecretFile)
	if err != nil {
		return nil, nil, fmt.Errorf("okta_hooks %s: %w", c.Name, err)
	}
	col := &collect.Collector{Name: c.Name, Vendor: HookVendor, Tenant: c.Tenant, Topic: c.Topic, Lag: time.Hour}
	h := &Hook{cfg: c, collector: col, secret: sha256.Sum256([]byte(s)), log: logger.With("collector", c.Name)}
	h.requests = promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Namespace: "scimwatch", Subsystem: "collector", Name: "hook_requests_total",
		Help: "Requests to an Event Hooks endpoint, by result: delivered, verified, unauthorized, too_large, malformed, unavailable, method."},
		[]string{"collector", "tenant", "result"})
	return h, col, nil
}

// Serve listens and serves until ctx ends; it returns the address bound
// and a wait that returns once the server has stopped.
func (h *Hook) Serve(ctx context.Context, p Producer) (string, func(), error) {
	h.producer = p
	mux := http.NewServeMux()
	mux.Handle(h.cfg.Path, h)
	addr, wait, err := serve.Serve(ctx, h.cfg.Listen, mux, serve.TLS{CertFile: h.cfg.CertFile, KeyFile: h.cfg.KeyFile, Plain: h.cfg.PlainHTTP}, 10*time.Second, h.log)
	if err != nil {
		return "", nil, fmt.Errorf("okta_hooks %s: %w", h.cfg.Name, err)
	}
	return addr, wait, nil
}

func (h *Hook) count(result string) {
	h.requests.WithLabelValues(h.cfg.Name, h.cfg.Tenant, result).Inc()
}

func (h *Hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	got := sha256.Sum256([]byte(r.Header.Get(h.cfg.Header)))
	if subtle.ConstantTimeCompare(got[:], h.secret[:]) != 1 {
		h.count("unauthorized")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch r.Method {
	case http.MethodGet:
		// The one-time verification: echo the challenge as Okta documents.
		ch := r.Header.Get("X-Okta-Verification-Challenge")
		if ch == "" || len(ch) > 1024 {
			h.count("malformed")
			http.Error(w, "no verification challenge", http.StatusBadRequest)
			return
		}
		h.count("verified")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"verification": ch})
	case http.MethodPost:
		h.deliver(w, r)
	default:
		h.count("method")
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (h *Hook) deliver(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.count("too_large")
			http.Error(w, "delivery too large", http.StatusRequestEntityTooLarge)
			return
		}
		h.count("malformed")
		http.Error(w, "reading the delivery", http.StatusBadRequest)
		return
	}
	var d struct {
		Data struct {
			Events []json.RawMessage `json:"events"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		h.count("malformed")
		h.log.Warn("okta event hook delivery is not JSON of the documented shape; refused", "err", err, "bytes", len(body))
		http.Error(w, "not an event hook delivery", http.StatusBadRequest)
		return
	}
	recs := make([]collect.Record, len(d.Data.Events))
	for i, ev := range d.Data.Events {
		recs[i] = record(ev)
	}
	ctx, cancel := context.WithTimeout(r.Context(), Timeout)
	defer cancel()
	if err := h.producer.Produce(ctx, h.collector, recs); err != nil {
		h.count("unavailable")
		h.log.Warn("okta event hook delivery not produced to Kafka; Okta will deliver it again", "events", len(recs), "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	h.count("delivered")
	w.WriteHeader(http.StatusOK)
}
