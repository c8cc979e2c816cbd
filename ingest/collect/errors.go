package collect

import (
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
)

// RefusedError is a vendor's refusal that no retry mends: a revoked or
// wrong credential, a missing right (scope, role, permission). The runner
// reports it on /readyz and in scimwatch_collector_up at once, and tries
// again only every minute or so, in case someone fixed it.
type RefusedError struct {
	Status int
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Status == 0 {
		return "refused: " + e.Reason
	}
	return fmt.Sprintf("refused (HTTP %d): %s", e.Status, e.Reason)
}

// Refused makes a RefusedError.
func Refused(status int, reason string) error { return &RefusedError{Status: status, Reason: reason} }

// IsRefused reports whether err is, or wraps, a RefusedError.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// MalformedError is a response that is not what the vendor documents (not
// JSON, not the list it should be): retried, counted, never produced.
type MalformedError struct {
	URL string
	Err error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed page from %s: %v", e.URL, e.Err)
}
func (e *MalformedError) Unwrap() error { return e.Err }

// TokenError turns a token endpoint's refusal (a bad client, a revoked
// key, a scope not granted) into a RefusedError; other errors (the
// endpoint down) stay retryable.
func TokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode/100 == 4 && re.Response.StatusCode != http.StatusTooManyRequests {
		reason := re.ErrorCode
		if re.ErrorDescription != "" {
			reason += ": " + re.ErrorDescription
		}
		if reason == "" { // x/oauth2/jwt leaves the answer unread
			reason = snippet(re.Body)
		}
		return Refused(re.Response.StatusCode, "token endpoint: "+reason)
	}
	return fmt.Errorf("getting a token: %w", err)
}
