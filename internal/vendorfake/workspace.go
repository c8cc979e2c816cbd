package vendorfake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Workspace serves Google's OAuth 2.0 token endpoint for service accounts
// (the JWT bearer grant, with domain-wide delegation to a subject) and the
// Admin SDK Reports API's activities.list
// (/admin/reports/v1/activity/users/all/applications/{app}) as documented:
// startTime, endTime, maxResults (at most 1000), pageToken, newest first;
// 401 for an expired token, 403 with reason forbidden for a subject that
// is no admin, 403 with reason rateLimitExceeded when throttled.
type Workspace struct {
	*server
	faults
	tokens

	mu         sync.Mutex
	activities map[string][]graphRecord
	// ClientEmail and Key are the service account; KeyFile its JSON key.
	ClientEmail string
	Key         *rsa.PrivateKey
	KeyFile     string
	// Admin is the subject allowed (delegation granted for Scope).
	Admin string
	// NotAdmin makes the Reports API refuse the subject.
	NotAdmin bool
	TokenTTL time.Duration
	Requests int
}

// NewWorkspace starts a customer's fake and writes the service account's
// key into dir.
func NewWorkspace(dir string) (*Workspace, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	w := &Workspace{activities: map[string][]graphRecord{}, ClientEmail: "scimwatch@acme-audit.iam.gserviceaccount.com", Key: key,
		Admin: "admin@acme.example", TokenTTL: time.Hour}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", w.token)
	mux.HandleFunc("/admin/reports/v1/activity/users/all/applications/{app}", w.list)
	s, err := start(mux, dir)
	if err != nil {
		return nil, err
	}
	w.server = s
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	kf, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "acme-audit", "private_key_id": "7c1f0e",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "client_email": w.ClientEmail,
		"client_id": "104729563210987654321", "token_uri": s.URL() + "/token"})
	w.KeyFile = filepath.Join(dir, "service-account.json")
	if err := os.WriteFile(w.KeyFile, kf, 0o600); err != nil {
		s.Close()
		return nil, err
	}
	return w, nil
}

// Add makes activities of an application available now.
func (w *Workspace) Add(app string, raws ...[]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, raw := range raws {
		var a struct {
			ID struct {
				Time string `json:"time"`
			} `json:"id"`
		}
		_ = json.Unmarshal(raw, &a)
		t, _ := time.Parse(time.RFC3339Nano, a.ID.Time)
		w.activities[app] = append(w.activities[app], graphRecord{t, raw})
	}
}

// Set changes the customer's settings while the server runs.
func (w *Workspace) Set(f func(*Workspace)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w)
}

// ExpireTokens ends the tokens issued so far; Revoke refuses the account.
func (w *Workspace) ExpireTokens()     { w.tokens.expire() }
func (w *Workspace) Revoke(b bool)     { w.tokens.revoke(b) }
func (w *Workspace) TokensIssued() int { return w.tokens.count() }

func googleError(rw http.ResponseWriter, status int, reason, msg string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg,
		"errors": []any{map[string]string{"message": msg, "domain": "global", "reason": reason}}}})
}

// RateLimited is the fault Google answers a rate limit with.
var RateLimited = Fault{Status: 403, Body: `{"error":{"code":403,"message":"Quota exceeded for quota metric 'Queries'","errors":[{"message":"Quota exceeded","domain":"usageLimits","reason":"rateLimitExceeded"}]}}`}

func (w *Workspace) list(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.Requests++
	w.mu.Unlock()
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !w.tokens.valid(tok) {
		googleError(rw, http.StatusUnauthorized, "authError", "Invalid Credentials")
		return
	}
	w.mu.Lock()
	notAdmin := w.NotAdmin
	w.mu.Unlock()
	if notAdmin {
		googleError(rw, http.StatusForbidden, "forbidden", "Not Authorized to access this resource/api")
		return
	}
	if w.faults.take(rw) {
		return
	}
	q := r.URL.Query()
	var from, to time.Time
	var err error
	if v := q.Get("startTime"); v != "" {
		if from, err = time.Parse(time.RFC3339Nano, v); err != nil {
			googleError(rw, http.StatusBadRequest, "invalid", "Invalid value for: startTime")
			return
		}
	}
	if v := q.Get("endTime"); v != "" {
		if to, err = time.Parse(time.RFC3339Nano, v); err != nil {
			googleError(rw, http.StatusBadRequest, "invalid", "Invalid value for: endTime")
			return
		}
	}
	n := 1000
	if v := q.Get("maxResults"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			googleError(rw, http.StatusBadRequest, "invalid", "Invalid value for: maxResults")
			return
		}
	}
	skip, _ := strconv.Atoi(q.Get("pageToken"))
	w.mu.Lock()
	var sel []graphRecord
	for _, a := range w.activities[r.PathValue("app")] {
		if (from.IsZero() || !a.t.Before(from)) && (to.IsZero() || a.t.Before(to)) {
			sel = append(sel, a)
		}
	}
	w.mu.Unlock()
	slices.SortStableFunc(sel, func(a, b graphRecord) int { return b.t.Compare(a.t) })
	skip = min(max(skip, 0), len(sel))
	end := min(skip+n, len(sel))
	items := make([]json.RawMessage, 0, end-skip)
	for _, a := range sel[skip:end] {
		items = append(items, a.raw)
	}
	body := map[string]any{"kind": "admin#reports#activities", "etag": `"` + newToken()[:16] + `"`}
	if len(items) > 0 {
		body["items"] = items // Google leaves items out of an empty page
	}
	if end < len(sel) {
		body["nextPageToken"] = strconv.Itoa(end)
	}
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(body)
}

func (w *Workspace) token(rw http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(status)
		_ = json.NewEncoder(rw).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type")
		return
	}
	var claims struct {
		jwt.RegisteredClaims
		Scope string `json:"scope"`
	}
	_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), &claims, func(*jwt.Token) (any, error) { return &w.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(w.ClientEmail), jwt.WithAudience(w.URL()+"/token"))
	if err != nil {
		fail(http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	w.tokens.mu.Lock()
	revoked := w.tokens.revoked
	w.tokens.mu.Unlock()
	if revoked {
		fail(http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	if claims.Subject != w.Admin || claims.Scope != "https://www.googleapis.com/auth/admin.reports.audit.readonly" {
		fail(http.StatusUnauthorized, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		return
	}
	tok := w.tokens.issue(w.TokenTTL)
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]any{"token_type": "Bearer", "expires_in": int(w.TokenTTL.Seconds()), "access_token": tok})
}

// WorkspaceActivity is a Reports API activity as Google documents it: one
// event of app (its type and name) by actor with parameters, at t.
func WorkspaceActivity(app string, uq int64, typ, name, actor string, params map[string]string, t time.Time) []byte {
	var ps []any
	for k, v := range params {
		ps = append(ps, map[string]string{"name": k, "value": v})
	}
	b, _ := json.Marshal(map[string]any{
		"kind": "admin#reports#activity", "etag": `"x` + hash(actor) + `"`,
		"id":    map[string]any{"time": t.UTC().Format("2006-01-02T15:04:05.000Z"), "uniqueQualifier": strconv.FormatInt(uq, 10), "applicationName": app, "customerId": "C03az79cb"},
		"actor": map[string]any{"email": actor, "profileId": "1" + hash(actor)[:10], "callerType": "USER"}, "ipAddress": "203.0.113.77",
		"events": []any{map[string]any{"type": typ, "name": name, "parameters": ps}},
	})
	return b
}
