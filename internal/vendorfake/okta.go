package vendorfake

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Okta serves an org's System Log API (GET /api/v1/logs) and its OAuth
// 2.0 token endpoint (/oauth2/v1/token) as Okta documents them: an SSWS
// API token or a private_key_jwt service app granted okta.logs.read;
// since, limit (at most 1000), sortOrder, and the after cursor of the
// Link rel="next" header, which polling follows for ever; polling selects
// events by the time they were stored, so an event stored late (its
// published time in the past) comes after the cursor; the X-Rate-Limit-*
// headers and 429 once the window's requests are used.
type Okta struct {
	*server
	faults
	tokens

	mu sync.Mutex
	// events in the order they were stored
	events [][]byte
	stored []time.Time
	// APIToken is the SSWS token accepted ("" accepts none).
	APIToken string
	// ClientID and PublicKey are the service app (nil key: none).
	ClientID  string
	PublicKey crypto.PublicKey
	// Scopes are the scopes granted to the service app.
	Scopes []string
	// TokenTTL is the access tokens' lifetime (default an hour).
	TokenTTL time.Duration
	// RateLimit is the requests allowed per RateWindow (0: no limit).
	RateLimit  int
	RateWindow time.Duration
	window     time.Time
	used       int
	// Requests counts requests to /api/v1/logs.
	Requests int
	// Throttled counts the 429s for the rate limit.
	Throttled int
	// Concurrent is the most requests served at once.
	inFlight, Concurrent int
}

// NewOkta starts an org's fake; dir receives its CA file.
func NewOkta(dir string) (*Okta, error) {
	o := &Okta{TokenTTL: time.Hour, RateWindow: time.Minute, Scopes: []string{"okta.logs.read"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/logs", o.logs)
	mux.HandleFunc("/oauth2/v1/token", o.token)
	s, err := start(mux, dir)
	if err != nil {
		return nil, err
	}
	o.server = s
	return o, nil
}

// Add stores events, now, in this order.
func (o *Okta) Add(events ...[]byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for _, e := range events {
		o.events = append(o.events, e)
		o.stored = append(o.stored, now)
	}
}

// Len is how many events are stored.
func (o *Okta) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.events)
}

// Revoke revokes (or restores) every credential: the API token and the
// service app's grant.
func (o *Okta) Revoke(b bool) { o.tokens.revoke(b) }

// TokensIssued is how many access tokens the token endpoint issued.
func (o *Okta) TokensIssued() int { return o.tokens.count() }

func oktaError(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errorCode": code, "errorSummary": summary, "errorLink": code,
		"errorId": "oae" + newToken()[:20], "errorCauses": []any{}})
}

func (o *Okta) authorized(r *http.Request) (status int, ok bool) {
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "SSWS "):
		o.tokens.mu.Lock()
		revoked := o.tokens.revoked
		o.tokens.mu.Unlock()
		if o.APIToken == "" || h[5:] != o.APIToken || revoked {
			return http.StatusUnauthorized, false
		}
		return 0, true
	case strings.HasPrefix(h, "Bearer "):
		if !o.tokens.valid(h[7:]) {
			return http.StatusUnauthorized, false
		}
		return 0, true
	}
	return http.StatusUnauthorized, false
}

func (o *Okta) logs(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.Requests++
	o.inFlight++
	o.Concurrent = max(o.Concurrent, o.inFlight)
	o.mu.Unlock()
	defer func() { o.mu.Lock(); o.inFlight--; o.mu.Unlock() }()
	if _, ok := o.authorized(r); !ok {
		oktaError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	if !o.rate(w) {
		return
	}
	if o.faults.take(w) {
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: limit")
			return
		}
		limit = min(n, 1000)
	}
	if q.Get("sortOrder") != "" && q.Get("sortOrder") != "ASCENDING" {
		oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: this fake serves ASCENDING polling only")
		return
	}
	o.mu.Lock()
	pos := 0
	if a := q.Get("after"); a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(o.events) {
			o.mu.Unlock()
			oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after")
			return
		}
		pos = n
	} else if s := q.Get("since"); s != "" {
		since, err := time.Parse(time.RFC3339, s)
		if err != nil {
			o.mu.Unlock()
			oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: since")
			return
		}
		for pos < len(o.stored) && o.stored[pos].Before(since) {
			pos++
		}
	}
	end := min(pos+limit, len(o.events))
	page := o.events[pos:end]
	o.mu.Unlock()
	next := url.Values{"limit": {strconv.Itoa(limit)}, "sortOrder": {"ASCENDING"}, "after": {base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))}}
	self := "https://" + r.Host + r.URL.RequestURI()
	w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="self"`, self))
	w.Header().Add("Link", fmt.Sprintf(`<https://%s/api/v1/logs?%s>; rel="next"`, r.Host, next.Encode()))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("["))
	for i, e := range page {
		if i > 0 {
			_, _ = w.Write([]byte(","))
		}
		_, _ = w.Write(e)
	}
	_, _ = w.Write([]byte("]"))
}

// rate applies the rate limit and writes its headers; false: a 429 was
// answered.
func (o *Okta) rate(w http.ResponseWriter) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.RateLimit <= 0 {
		return true
	}
	now := time.Now()
	if now.Sub(o.window) >= o.RateWindow {
		o.window, o.used = now, 0
	}
	reset := o.window.Add(o.RateWindow)
	w.Header().Set("X-Rate-Limit-Limit", strconv.Itoa(o.RateLimit))
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
	if o.used >= o.RateLimit {
		o.Throttled++
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		o.mu.Unlock()
		oktaError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
		o.mu.Lock()
		return false
	}
	o.used++
	w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(o.RateLimit-o.used))
	return true
}

// token is the org authorization server's token endpoint for service
// apps: client_credentials with a private_key_jwt client assertion.
func (o *Okta) token(w http.ResponseWriter, r *http.Request) {
	fail := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		if code == "invalid_scope" || code == "invalid_request" {
			w.WriteHeader(http.StatusBadRequest)
		} else {
			w.WriteHeader(http.StatusUnauthorized)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		fail("invalid_request", "a POST of a form, please")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" || f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		fail("invalid_request", "client_credentials with a JWT client assertion")
		return
	}
	if o.PublicKey == nil {
		fail("invalid_client", "no such client")
		return
	}
	aud := "https://" + r.Host + "/oauth2/v1/token"
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(f.Get("client_assertion"), &claims, func(*jwt.Token) (any, error) { return o.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256", "ES256", "ES384", "ES512"}), jwt.WithAudience(aud), jwt.WithIssuer(o.ClientID),
		jwt.WithSubject(o.ClientID), jwt.WithExpirationRequired())
	if err != nil {
		fail("invalid_client", "The client_assertion signature is invalid: "+err.Error())
		return
	}
	o.tokens.mu.Lock()
	revoked := o.tokens.revoked
	o.tokens.mu.Unlock()
	if revoked {
		fail("invalid_client", "The client has been deactivated.")
		return
	}
	for _, s := range strings.Fields(f.Get("scope")) {
		granted := false
		for _, g := range o.Scopes {
			granted = granted || g == s
		}
		if !granted {
			fail("invalid_scope", "The following scopes were not granted: "+s)
			return
		}
	}
	ttl := o.TokenTTL
	tok := o.tokens.issue(ttl)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": int(ttl.Seconds()), "access_token": tok, "scope": f.Get("scope")})
}

// ExpireTokens ends the access tokens issued so far.
func (o *Okta) ExpireTokens() { o.tokens.expire() }

// OktaEvent is a System Log LogEvent as Okta documents it, of eventType
// by actor on target (a user's login), published at t.
func OktaEvent(uuid, eventType, actor, target string, t time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"uuid": uuid, "published": t.UTC().Format("2006-01-02T15:04:05.000Z"), "eventType": eventType, "version": "0",
		"severity": "INFO", "legacyEventType": eventType, "displayMessage": eventType,
		"actor":                 map[string]any{"id": "00u" + hash(actor), "type": "User", "alternateId": actor, "displayName": actor},
		"client":                map[string]any{"ipAddress": "198.51.100.7", "userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0"}},
		"outcome":               map[string]any{"result": "SUCCESS"},
		"target":                []any{map[string]any{"id": "00u" + hash(target), "type": "User", "alternateId": target, "displayName": target}},
		"transaction":           map[string]any{"type": "WEB", "id": "W" + uuid[:8]},
		"authenticationContext": map[string]any{"externalSessionId": "102" + uuid[:10]},
	})
	return b
}

func hash(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return fmt.Sprintf("%08x%06x", h, h>>8)
}
