package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scimwatch/scimwatch/kafka"
)

// Auth puts a collector's credentials on a request.
type Auth interface {
	Authorize(ctx context.Context, req *http.Request) error
	// Refresh drops a token the API refused (expired early, revoked), so
	// that the next Authorize gets a new one.
	Refresh()
}

// API makes a collector's requests to its vendor: credentials, the
// vendor's rate limit honoured before it is hit, 429 waited out, 5xx and
// timeouts retried with backoff, an expired token refreshed, and a refusal
// no retry mends returned as a RefusedError.
type API struct {
	HTTP *http.Client
	Auth Auth
	// Collector, Vendor, Tenant label the metrics.
	Collector, Vendor, Tenant string
	Metrics                   *Metrics
	// Share is the part of the vendor's rate limit (Okta's
	// X-Rate-Limit-* headers) this collector may use: once fewer than
	// (1-Share) of the window's requests are left it waits for the
	// window's reset. 0: 0.5.
	Share float64
	// Retryable says whether a 4xx other than 401 and 429 is worth
	// retrying (Google's rate-limit 403s); nil: none is.
	Retryable func(status int, body []byte) bool
	// MaxAttempts bounds the tries of one request (default 8).
	MaxAttempts int
	// MaxBody bounds a response's size (default 64 MiB).
	MaxBody int64

	waitUntil time.Time // the rate-limit window's reset, when its share is used
}

// Response is a successful answer.
type Response struct {
	Body   []byte
	Header http.Header
}

// Get fetches url.
func (a *API) Get(ctx context.Context, url string) (*Response, error) {
	attempts := a.MaxAttempts
	if attempts <= 0 {
		attempts = 8
	}
	bo := &kafka.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second}
	refreshed := false
	var last error
	for try := 0; try < attempts; try++ {
		if !a.waitUntil.IsZero() {
			if !sleep(ctx, time.Until(a.waitUntil)) {
				return nil, ctx.Err()
			}
			a.waitUntil = time.Time{}
		}
		resp, status, err := a.do(ctx, url)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.Metrics.APIRequests.WithLabelValues(a.Collector, a.Vendor, a.Tenant, strconv.Itoa(status)).Inc()
		if err == nil && status/100 == 2 {
			a.limits(resp.Header)
			return resp, nil
		}
		var retryIn time.Duration
		switch {
		case err != nil:
			var refused *RefusedError
			if errors.As(err, &refused) {
				a.count("token")
				return nil, err
			}
			a.count(errStatus(err))
			last = err
		case status == http.StatusTooManyRequests:
			a.count("429")
			a.Metrics.RateLimitWaits.WithLabelValues(a.Collector, a.Vendor, a.Tenant, "throttled").Inc()
			retryIn = retryAfter(resp.Header, time.Now())
			last = fmt.Errorf("GET %s: throttled (429)", redact(url))
			a.limits(resp.Header)
		case status == http.StatusUnauthorized:
			a.count("401")
			if refreshed {
				return nil, Refused(status, "the credentials were refused after a fresh token: "+snippet(resp.Body))
			}
			a.Auth.Refresh()
			refreshed = true
			continue
		case status/100 == 4 && (a.Retryable == nil || !a.Retryable(status, resp.Body)):
			a.count(strconv.Itoa(status))
			return nil, Refused(status, snippet(resp.Body))
		default: // 5xx, a retryable 4xx
			a.count(strconv.Itoa(status))
			retryIn = retryAfter(resp.Header, time.Now())
			last = fmt.Errorf("GET %s: HTTP %d: %s", redact(url), status, snippet(resp.Body))
		}
		if retryIn > 0 {
			if !sleep(ctx, retryIn) {
				return nil, ctx.Err()
			}
		} else if !bo.Wait(ctx) {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("%d tries: %w", attempts, last)
}

// Count counts an error of status (a stream's "malformed" page).
func (a *API) Count(status string) { a.count(status) }

func (a *API) count(status string) {
	a.Metrics.APIErrors.WithLabelValues(a.Collector, a.Vendor, a.Tenant, status).Inc()
}

func (a *API) do(ctx context.Context, url string) (*Response, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "scimwatch-collector")
	if err := a.Auth.Authorize(ctx, req); err != nil {
		return nil, 0, err
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", redact(url), scrub(err))
	}
	defer resp.Body.Close()
	max := a.MaxBody
	if max <= 0 {
		max = 64 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: reading the answer: %w", redact(url), err)
	}
	if int64(len(body)) > max {
		return nil, resp.StatusCode, &MalformedError{URL: redact(url), Err: fmt.Errorf("answer larger than %d bytes", max)}
	}
	return &Response{Body: body, Header: resp.Header}, resp.StatusCode, nil
}

// limits reads Okta's rate-limit headers: past the share, the next
// request waits for the window's reset.
func (a *API) limits(h http.Header) {
	limit, err1 := strconv.Atoi(h.Get("X-Rate-Limit-Limit"))
	remaining, err2 := strconv.Atoi(h.Get("X-Rate-Limit-Remaining"))
	reset, err3 := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
	if err1 != nil || err2 != nil || limit <= 0 {
		return
	}
	a.Metrics.RateLimitRemaining.WithLabelValues(a.Collector, a.Vendor, a.Tenant).Set(float64(remaining))
	share := a.Share
	if share <= 0 || share > 1 {
		share = 0.5
	}
	if float64(remaining) > float64(limit)*(1-share) || err3 != nil {
		return
	}
	until := time.Unix(reset, 0).Add(time.Second) // the reset is whole seconds
	if d := time.Until(until); d > 0 && d <= 5*time.Minute {
		a.waitUntil = until
		a.Metrics.RateLimitWaits.WithLabelValues(a.Collector, a.Vendor, a.Tenant, "share").Inc()
	}
}

// retryAfter reads how long a 429 or 503 says to wait: Retry-After in
// seconds or as a date, or Okta's X-Rate-Limit-Reset; 0 when none says.
// At most 5 minutes: a header that says more is not trusted.
func retryAfter(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil {
			d = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	} else if v := h.Get("X-Rate-Limit-Reset"); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			d = time.Unix(s, 0).Add(time.Second).Sub(now)
		}
	}
	return min(max(d, 0), 5*time.Minute)
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func errStatus(err error) string {
	var m *MalformedError
	var ne interface{ Timeout() bool }
	switch {
	case errors.As(err, &m):
		return "malformed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "network"
}

// snippet is the start of a vendor's error answer, for the log and
// /readyz: vendors' errors say what is wrong (a missing scope) and carry
// no secret of ours.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// redact drops a URL's query (a cursor, a filter) from what is logged:
// short, and nothing a vendor put in a link is repeated.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// scrub replaces the URL an *url.Error quotes with its redacted form.
func scrub(err error) error {
	type urlErr interface{ Unwrap() error }
	if ue, ok := err.(urlErr); ok {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
