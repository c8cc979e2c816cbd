// Package scimgateway is scimwatch scim-gateway: a reverse proxy in front
// of an app's own SCIM API that records every request and response to
// Kafka in the SCIM request-log form ingest/source/scim reads (the client
// named by a fingerprint of its credential, never the credential; bodies
// kept with secrets masked), and refuses, by rules in expr, what a client
// may not do.
package scimgateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/internal/serve"
	"github.com/scimwatch/scimwatch/kafka"
)

// Gateway is the proxy.
type Gateway struct {
	cfg      Config
	rules    []compiled
	upstream *url.URL
	proxy    *httputil.ReverseProxy
	mask     map[string]bool
	writer   *kafkago.Writer
	queue    chan []byte
	clients  *lru.Cache[string, map[string]bool] // client -> attributes written, under mu
	log      *slog.Logger
	stderr   io.Writer
	m        gatewayMetrics

	mu           sync.Mutex
	failingSince time.Time
	lastErr      error
}

type gatewayMetrics struct {
	requests  *prometheus.CounterVec
	denied    *prometheus.CounterVec
	ruleErrs  *prometheus.CounterVec
	records   *prometheus.CounterVec
	queueSize prometheus.Gauge
}

// New returns the gateway; its rules are compiled and the upstream's TLS
// read now.
func New(cfg Config, client kafka.Client, reg prometheus.Registerer, logger *slog.Logger) (*Gateway, error) {
	rs, err := compileRules(cfg.Rules)
	if err != nil {
		return nil, err
	}
	up, err := url.Parse(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	tc, err := cfg.UpstreamTLS.Load()
	if err != nil {
		return nil, fmt.Errorf("upstream_tls: %w", err)
	}
	clients, _ := lru.New[string, map[string]bool](cfg.MaxClients)
	g := &Gateway{cfg: cfg, rules: rs, upstream: up, mask: maskSet(cfg.Mask), queue: make(chan []byte, cfg.QueueRecords),
		clients: clients, log: logger, stderr: os.Stderr}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	t.ResponseHeaderTimeout = time.Minute
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.SetXForwarded()
		},
		Transport: t,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.Warn("scim gateway: upstream", "err", err)
			scimError(w, http.StatusBadGateway, "the app's SCIM API did not answer")
		},
	}
	g.writer = client.Writer(cfg.Topic)
	g.writer.RequiredAcks = kafkago.RequireAll
	g.writer.BatchTimeout = 10 * time.Millisecond
	g.writer.Balancer = &kafkago.Hash{}
	f := promauto.With(reg)
	const ns, sub = "scimwatch", "scim_gateway"
	g.m = gatewayMetrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "SCIM requests, by method, resource and outcome: forwarded, denied, too_large, upstream_error."}, []string{"method", "resource", "outcome"}),
		denied: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "denied_total",
			Help: "Requests refused, by rule."}, []string{"rule"}),
		ruleErrs: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rule_errors_total",
			Help: "Rules that failed at run time (the request was not refused by them), by rule."}, []string{"rule"}),
		records: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_total",
			Help: "Request-log records, by where they went: kafka, or stderr (the queue was full: Kafka down too long)."}, []string{"to"}),
		queueSize: f.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queue_records",
			Help: "Records waiting for Kafka (bounded by queue_records)."}),
	}
	return g, nil
}

// Serve listens and serves until ctx ends, writing records to Kafka
// meanwhile; wait returns once both stopped (the records queued are
// written, or put on stderr, first).
func (g *Gateway) Serve(ctx context.Context) (string, func(), error) {
	addr, served, err := serve.Serve(ctx, g.cfg.Listen, g, serve.TLS{CertFile: g.cfg.CertFile, KeyFile: g.cfg.KeyFile, Plain: g.cfg.PlainHTTP}, time.Minute, g.log)
	if err != nil {
		return "", nil, err
	}
	written := make(chan struct{})
	go func() { defer close(written); g.write(ctx) }()
	return addr, func() { served(); <-written; _ = g.writer.Close() }, nil
}

// Ready says whether records reach Kafka.
func (g *Gateway) Ready(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.failingSince.IsZero() && time.Since(g.failingSince) > 10*time.Second {
		return fmt.Errorf("scim gateway: records do not reach Kafka for %s: %v", time.Since(g.failingSince).Round(time.Second), g.lastErr)
	}
	return nil
}

// write sends queued records to Kafka, retrying with backoff; records are
// never dropped: what the queue cannot hold went to stderr already.
func (g *Gateway) write(ctx context.Context) {
	bo := &kafka.Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second}
	var batch []kafkago.Message
	flush := func(wctx context.Context) bool {
		for len(batch) > 0 {
			// Each write is bounded on its own: a shutdown (wctx ending)
			// stops the retries, not a write under way.
			actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := g.writer.WriteMessages(actx, batch...)
			cancel()
			g.mu.Lock()
			if err == nil {
				g.failingSince, g.lastErr = time.Time{}, nil
			} else if g.failingSince.IsZero() {
				g.failingSince, g.lastErr = time.Now(), err
			} else {
				g.lastErr = err
			}
			g.mu.Unlock()
			if err == nil {
				g.m.records.WithLabelValues("kafka").Add(float64(len(batch)))
				batch = batch[:0]
				bo.Reset()
				return true
			}
			g.log.Warn("scim gateway: writing records to Kafka; will retry", "records", len(batch), "err", err)
			if !bo.Wait(wctx) {
				return false
			}
		}
		return true
	}
	for {
		select {
		case rec := <-g.queue:
			batch = append(batch, kafkago.Message{Value: rec})
			for len(batch) < 500 {
				select {
				case rec := <-g.queue:
					batch = append(batch, kafkago.Message{Value: rec})
					continue
				default:
				}
				break
			}
			g.m.queueSize.Set(float64(len(g.queue)))
			if !flush(ctx) {
				// Shutting down while Kafka refuses: one last try below.
				wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				ok := flush(wctx)
				cancel()
				if !ok {
					g.drain(batch)
				}
				batch = batch[:0]
			}
		case <-ctx.Done():
			// What is queued: to Kafka within a bound, else to stderr.
			for len(g.queue) > 0 {
				batch = append(batch, kafkago.Message{Value: <-g.queue})
			}
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ok := flush(wctx)
			cancel()
			if !ok {
				g.drain(batch)
			}
			return
		}
	}
}

func (g *Gateway) drain(batch []kafkago.Message) {
	for _, m := range batch {
		g.toStderr(m.Value)
	}
}

func (g *Gateway) toStderr(rec []byte) {
	g.m.records.WithLabelValues("stderr").Inc()
	_, _ = fmt.Fprintf(g.stderr, "scimwatch scim-gateway: record not written to Kafka: %s\n", rec)
}

func (g *Gateway) enqueue(rec []byte) {
	select {
	case g.queue <- rec:
	default:
		g.toStderr(rec)
	}
}

// ServeHTTP checks, forwards and records one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	req := g.request(r, body)
	rec := &record{Time: start.UTC().Format(time.RFC3339Nano), Tenant: g.cfg.Tenant, App: g.cfg.App, RequestID: requestID(r),
		ClientID: req.Client, SourceIP: req.IP, UserAgent: r.UserAgent(), Method: r.Method, Path: r.URL.RequestURI()}
	if err != nil {
		var tooLarge *http.MaxBytesError
		status, msg := http.StatusBadRequest, "reading the request"
		if errors.As(err, &tooLarge) {
			status, msg = http.StatusRequestEntityTooLarge, "request body too large"
		}
		g.m.requests.WithLabelValues(methodLabel(r.Method), req.Resource, "too_large").Inc()
		rec.Status, rec.Response = status, scimErrorBody(status, msg)
		g.enqueue(rec.encode())
		scimError(w, status, msg)
		return
	}
	rec.Request = g.masked(body)
	if rule := denies(g.rules, req, func(name string, err error) {
		g.m.ruleErrs.WithLabelValues(name).Inc()
		g.log.Warn("scim gateway: rule failed; not refusing by it", "rule", name, "err", err)
	}); rule != nil {
		g.m.requests.WithLabelValues(methodLabel(r.Method), req.Resource, "denied").Inc()
		g.m.denied.WithLabelValues(rule.Name).Inc()
		msg := "refused by the gateway's rule " + rule.Name
		rec.Status, rec.Response, rec.DeniedBy = rule.Status, scimErrorBody(rule.Status, msg), rule.Name
		g.enqueue(rec.encode())
		scimError(w, rule.Status, msg)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	cw := &capture{ResponseWriter: w, max: g.cfg.MaxBodyBytes}
	g.proxy.ServeHTTP(cw, r)
	if cw.status == 0 {
		cw.status = http.StatusOK
	}
	outcome := "forwarded"
	if cw.status == http.StatusBadGateway {
		outcome = "upstream_error"
	}
	g.m.requests.WithLabelValues(methodLabel(r.Method), req.Resource, outcome).Inc()
	rec.Status = cw.status
	if cw.cut {
		rec.Response = []byte(fmt.Sprintf(`{"scimwatch_cut":"response larger than %d bytes"}`, g.cfg.MaxBodyBytes))
	} else {
		rec.Response = g.masked(cw.body.Bytes())
	}
	if cw.status/100 == 2 && len(req.Attributes) > 0 {
		g.remember(req.Client, req.Attributes)
	}
	g.enqueue(rec.encode())
}

// methodLabel bounds the method label: a client may send any token as
// its method, and each would be a series of its own.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}

// record is the SCIM request-log record (ingest/source/scim.Record), with
// the rule that refused the request, if one did.
type record struct {
	Time      string          `json:"time"`
	Tenant    string          `json:"tenant"`
	RequestID string          `json:"request_id"`
	ClientID  string          `json:"client_id"`
	SourceIP  string          `json:"source_ip"`
	UserAgent string          `json:"user_agent"`
	Method    string          `json:"method"`
	Path      string          `json:"path"`
	Status    int             `json:"status"`
	App       string          `json:"app,omitempty"`
	Request   json.RawMessage `json:"request,omitempty"`
	Response  json.RawMessage `json:"response,omitempty"`
	DeniedBy  string          `json:"denied_by,omitempty"`
}

func (r *record) encode() []byte {
	b, _ := json.Marshal(r)
	return b
}

// capture passes a response on and keeps its status and the start of its
// body.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	max    int64
	cut    bool
}

func (c *capture) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
	c.ResponseWriter.WriteHeader(s)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if !c.cut {
		if int64(c.body.Len()+len(b)) > c.max {
			c.cut = true
			c.body.Reset()
		} else {
			c.body.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

func (c *capture) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Fingerprint names a client by its credential without keeping it: the
// first 16 hex digits of the SHA-256 of the Authorization header's value.
func Fingerprint(authorization string) string {
	if authorization == "" {
		return "anonymous"
	}
	scheme, cred, ok := strings.Cut(authorization, " ")
	if !ok {
		scheme, cred = "auth", authorization
	}
	sum := sha256.Sum256([]byte(cred))
	return strings.ToLower(scheme) + ":" + hex.EncodeToString(sum[:8])
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		return id
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "gw-" + hex.EncodeToString(b)
}

// resources are SCIM's endpoints (RFC 7644 §3.2).
var resources = []string{"Users", "Groups", "Bulk", "Me", "ServiceProviderConfig", "ResourceTypes", "Schemas", ".search"}

// request is what rules see.
func (g *Gateway) request(r *http.Request, body []byte) *Request {
	req := &Request{Client: Fingerprint(r.Header.Get("Authorization")), Method: r.Method, Path: r.URL.Path, Count: -1,
		Filter: r.URL.Query().Get("filter")}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req.IP = host
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i, s := range segs {
		if slices.Contains(resources, s) {
			req.Resource = s
			if i+1 < len(segs) {
				req.ID = segs[i+1]
			}
		}
	}
	if c := r.URL.Query().Get("count"); c != "" {
		if n, err := strconv.Atoi(c); err == nil {
			req.Count = n
		}
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		req.Attributes = attributes(body)
	}
	req.NewAttributes = g.newAttributes(req.Client, req.Attributes)
	return req
}

// attributes are what a body writes: a resource's attributes (an
// extension's as urn:...:name), or a PatchOp's paths and its values' keys.
func attributes(body []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	set := map[string]bool{}
	if ops, ok := m["Operations"]; ok {
		var list []struct {
			Path  string          `json:"path"`
			Value json.RawMessage `json:"value"`
		}
		_ = json.Unmarshal(ops, &list)
		for _, op := range list {
			if op.Path != "" {
				p := op.Path
				if i := strings.IndexAny(p, "[."); i > 0 && !strings.HasPrefix(strings.ToLower(p), "urn:") {
					p = p[:i]
				}
				set[strings.ToLower(p)] = true
				continue
			}
			var v map[string]json.RawMessage
			if json.Unmarshal(op.Value, &v) == nil {
				for k := range v {
					set[strings.ToLower(k)] = true
				}
			}
		}
	} else {
		for k, v := range m {
			switch strings.ToLower(k) {
			case "schemas", "id", "meta", "externalid":
				continue
			}
			if strings.HasPrefix(strings.ToLower(k), "urn:") {
				var ext map[string]json.RawMessage
				if json.Unmarshal(v, &ext) == nil {
					for ek := range ext {
						set[strings.ToLower(k+":"+ek)] = true
					}
					continue
				}
			}
			set[strings.ToLower(k)] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (g *Gateway) newAttributes(client string, attrs []string) []string {
	if len(attrs) == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	known, _ := g.clients.Get(client)
	var out []string
	for _, a := range attrs {
		if !known[a] {
			out = append(out, a)
		}
	}
	return out
}

func (g *Gateway) remember(client string, attrs []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	known, ok := g.clients.Get(client)
	if !ok {
		known = map[string]bool{}
	}
	for _, a := range attrs {
		if len(known) < 1000 { // a client's attributes, bounded too
			known[a] = true
		}
	}
	g.clients.Add(client, known)
}

// masked is body with the values of masked attributes replaced, as JSON;
// a body that is not JSON is recorded as its size.
func (g *Gateway) masked(body []byte) json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return json.RawMessage(fmt.Sprintf(`{"scimwatch_not_json":%d}`, len(body)))
	}
	b, err := json.Marshal(g.maskValue(v, 0))
	if err != nil {
		return nil
	}
	return b
}

func (g *Gateway) maskValue(v any, depth int) any {
	if depth > 64 {
		return "***" // deeper than any SCIM body: not kept
	}
	switch t := v.(type) {
	case map[string]any:
		if p, ok := t["path"].(string); ok && g.maskedPath(p) {
			if _, has := t["value"]; has {
				t["value"] = "***"
			}
		}
		for k, x := range t {
			if g.mask[strings.ToLower(k)] {
				t[k] = "***"
				continue
			}
			t[k] = g.maskValue(x, depth+1)
		}
	case []any:
		for i := range t {
			t[i] = g.maskValue(t[i], depth+1)
		}
	}
	return v
}

func (g *Gateway) maskedPath(p string) bool {
	p = strings.ToLower(p)
	if i := strings.LastIndexAny(p, ".:"); i >= 0 {
		p = p[i+1:]
	}
	return g.mask[p]
}

func scimErrorBody(status int, detail string) []byte {
	b, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": strconv.Itoa(status), "detail": detail})
	return b
}

func scimError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(scimErrorBody(status, detail))
}
