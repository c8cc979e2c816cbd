package vendorfake

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Graph serves Microsoft's identity platform for one tenant (its OpenID
// configuration and v2.0 token endpoint, client credentials with a secret
// or a certificate's signed assertion) and Microsoft Graph's audit logs
// (/v1.0/auditLogs/directoryAudits, provisioning, signIns) as documented:
// $filter on activityDateTime (createdDateTime for signIns) with ge, le,
// gt, lt; $top; newest first; @odata.nextLink paging; 401
// InvalidAuthenticationToken for an expired token, 403
// Authorization_RequestDenied without AuditLog.Read.All, 429 with
// Retry-After when throttled.
type Graph struct {
	*server
	faults
	tokens

	mu   sync.Mutex
	logs map[string][]graphRecord
	// TenantID, ClientID and ClientSecret or Certificate are the app.
	TenantID, ClientID, ClientSecret string
	Certificate                      *x509.Certificate
	// Denied are logs the app has no permission to read.
	Denied map[string]bool
	// TokenTTL is the tokens' lifetime (default an hour).
	TokenTTL time.Duration
	// Requests counts requests to the audit logs.
	Requests int
}

type graphRecord struct {
	t   time.Time
	raw []byte
}

// NewGraph starts a tenant's fake; dir receives its CA file.
func NewGraph(dir string) (*Graph, error) {
	g := &Graph{TenantID: "5b9a3f2e-1c4d-4e8f-9a7b-2c6d8e0f1a3b", ClientID: "e1c4a8f0-7d2b-4b6e-9f3a-8c5d1e2f4a6b", TokenTTL: time.Hour,
		logs: map[string][]graphRecord{}, Denied: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1.0/auditLogs/{log}", g.auditLogs)
	mux.HandleFunc("/{tenant}/v2.0/.well-known/openid-configuration", g.openid)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", g.token)
	s, err := start(mux, dir)
	if err != nil {
		return nil, err
	}
	g.server = s
	return g, nil
}

// Add makes records of a log (directoryAudits, provisioning, signIns)
// available now, whatever their own time.
func (g *Graph) Add(log string, raws ...[]byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	field := "activityDateTime"
	if log == "signIns" {
		field = "createdDateTime"
	}
	for _, raw := range raws {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		t, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(m[field]))
		g.logs[log] = append(g.logs[log], graphRecord{t, raw})
	}
}

// Set changes the app's settings while the server runs.
func (g *Graph) Set(f func(*Graph)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

// ExpireTokens ends the tokens issued so far; Revoke refuses the app.
func (g *Graph) ExpireTokens()     { g.tokens.expire() }
func (g *Graph) Revoke(b bool)     { g.tokens.revoke(b) }
func (g *Graph) TokensIssued() int { return g.tokens.count() }

func graphError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"date": time.Now().UTC().Format(time.RFC3339), "request-id": newToken()[:32]}}})
}

var filterTerm = regexp.MustCompile(`^(\w+) (ge|gt|le|lt) (\S+)$`)

func (g *Graph) auditLogs(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.Requests++
	g.mu.Unlock()
	log := r.PathValue("log")
	field := map[string]string{"directoryAudits": "activityDateTime", "provisioning": "activityDateTime", "signIns": "createdDateTime"}[log]
	if field == "" {
		graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+log+"'.")
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !g.tokens.valid(tok) {
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
		return
	}
	g.mu.Lock()
	denied := g.Denied[log]
	g.mu.Unlock()
	if denied {
		graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	if g.faults.take(w) {
		return
	}
	q := r.URL.Query()
	var conds []func(time.Time) bool
	if f := q.Get("$filter"); f != "" {
		for _, term := range strings.Split(f, " and ") {
			m := filterTerm.FindStringSubmatch(strings.TrimSpace(term))
			if m == nil || m[1] != field {
				graphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause")
				return
			}
			at, err := time.Parse(time.RFC3339Nano, m[3])
			if err != nil {
				graphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+m[3])
				return
			}
			switch m[2] {
			case "ge":
				conds = append(conds, func(t time.Time) bool { return !t.Before(at) })
			case "gt":
				conds = append(conds, func(t time.Time) bool { return t.After(at) })
			case "le":
				conds = append(conds, func(t time.Time) bool { return !t.After(at) })
			case "lt":
				conds = append(conds, func(t time.Time) bool { return t.Before(at) })
			}
		}
	}
	top := 100
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			graphError(w, http.StatusBadRequest, "BadRequest", "Invalid page size specified: '"+v+"'. Must be between 1 and 999 inclusive.")
			return
		}
		top = n
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	g.mu.Lock()
	var sel []graphRecord
	for _, rec := range g.logs[log] {
		ok := true
		for _, c := range conds {
			ok = ok && c(rec.t)
		}
		if ok {
			sel = append(sel, rec)
		}
	}
	g.mu.Unlock()
	slices.SortStableFunc(sel, func(a, b graphRecord) int { return b.t.Compare(a.t) }) // newest first
	skip = min(max(skip, 0), len(sel))
	end := min(skip+top, len(sel))
	vals := make([]json.RawMessage, 0, end-skip)
	for _, rec := range sel[skip:end] {
		vals = append(vals, rec.raw)
	}
	body := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/" + log, "value": vals}
	if end < len(sel) {
		nq := url.Values{"$filter": {q.Get("$filter")}, "$top": {strconv.Itoa(top)}, "$skiptoken": {strconv.Itoa(end)}}
		body["@odata.nextLink"] = "https://" + r.Host + "/v1.0/auditLogs/" + log + "?" + nq.Encode()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (g *Graph) openid(w http.ResponseWriter, r *http.Request) {
	t := r.PathValue("tenant")
	base := "https://" + r.Host + "/" + t
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"issuer": base + "/v2.0", "jwks_uri": base + "/discovery/v2.0/keys", "tenant_region_scope": "EU",
	})
}

func (g *Graph) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": desc, "error_codes": []int{7000215}})
	}
	if r.PathValue("tenant") != g.TenantID {
		fail(http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+r.PathValue("tenant")+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: client_credentials, please.")
		return
	}
	f := r.PostForm
	g.mu.Lock()
	secret, cert := g.ClientSecret, g.Certificate
	g.mu.Unlock()
	if f.Get("client_id") != g.ClientID {
		fail(http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
		return
	}
	switch {
	case f.Get("client_secret") != "":
		if secret == "" || f.Get("client_secret") != secret {
			fail(http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
			return
		}
	case f.Get("client_assertion") != "" && cert != nil:
		aud := "https://" + r.Host + "/" + g.TenantID + "/oauth2/v2.0/token"
		_, err := jwt.Parse(f.Get("client_assertion"), func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
			jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithIssuer(g.ClientID), jwt.WithSubject(g.ClientID), jwt.WithAudience(aud))
		if err != nil {
			fail(http.StatusUnauthorized, "invalid_client", "AADSTS700027: Client assertion failed signature validation: "+err.Error())
			return
		}
	default:
		fail(http.StatusUnauthorized, "invalid_client", "AADSTS7000216: client_assertion or client_secret is required.")
		return
	}
	g.tokens.mu.Lock()
	revoked := g.tokens.revoked
	g.tokens.mu.Unlock()
	if revoked {
		fail(http.StatusUnauthorized, "invalid_client", "AADSTS7000222: The provided client secret keys are expired.")
		return
	}
	tok := g.tokens.issue(g.TokenTTL)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": int(g.TokenTTL.Seconds()),
		"ext_expires_in": int(g.TokenTTL.Seconds()), "access_token": tok})
}

// GraphAudit is a directoryAudit as Graph documents it: activity (its
// activityDisplayName) by actor on a user target, at t.
func GraphAudit(id, activity, category, actor, target string, t time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "category": category, "correlationId": "c0" + hash(id) + "-1111-2222-3333-444455556666", "result": "success", "resultReason": "",
		"activityDisplayName": activity, "activityDateTime": t.UTC().Format("2006-01-02T15:04:05.0000000Z"), "loggedByService": "Core Directory",
		"operationType": "Assign",
		"initiatedBy": map[string]any{"app": nil, "user": map[string]any{"id": "a1" + hash(actor), "displayName": nil,
			"userPrincipalName": actor, "ipAddress": "203.0.113.40", "userType": nil, "homeTenantId": nil, "homeTenantName": nil}},
		"targetResources": []any{map[string]any{"id": "b2" + hash(target), "displayName": nil, "type": "User",
			"userPrincipalName": target, "groupType": nil, "modifiedProperties": []any{}}},
		"additionalDetails": []any{},
	})
	return b
}
