package collect

import (
	"context"
	"net/http"
	"sync"

	"golang.org/x/oauth2"
)

// TokenAuth is an Auth of OAuth 2.0 access tokens: New makes a token
// source (which caches its token until it expires); Refresh drops it for
// a new one, so that a token the API refused sooner is not sent again.
type TokenAuth struct {
	New func() oauth2.TokenSource

	mu sync.Mutex
	ts oauth2.TokenSource
}

// Authorize sets the Authorization header; a token endpoint's refusal is
// a RefusedError.
func (a *TokenAuth) Authorize(_ context.Context, r *http.Request) error {
	a.mu.Lock()
	if a.ts == nil {
		a.ts = a.New()
	}
	ts := a.ts
	a.mu.Unlock()
	tok, err := ts.Token()
	if err != nil {
		return TokenError(err)
	}
	tok.SetAuthHeader(r)
	return nil
}

// Refresh drops the token source.
func (a *TokenAuth) Refresh() {
	a.mu.Lock()
	a.ts = nil
	a.mu.Unlock()
}
