package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/slack-go/slack"

	"github.com/scimwatch/scimwatch/alerting"
)

// Actor applies a person's action to a notification (*alerting.Notifier).
type Actor interface {
	Act(ctx context.Context, a alerting.Action) error
}

// Requests remembers the requests taken (alerting.Store): a signed request
// is taken once, also after a restart.
type Requests interface {
	FirstRequest(ctx context.Context, digest string, at time.Time) (bool, error)
}

// Interactions is the endpoint Slack calls when someone presses a button
// of a notification (POST /slack/interactions). It accepts only requests
// signed with the app's signing secret, dated within five minutes, and not
// seen before; anything else is refused with 401 and counted.
//
// "Seen before" is by what was signed (the timestamp and the body), not by
// how the signature is written: the signature's hex is compared without
// regard to case, so a replay with it in capitals is the same request. The
// requests taken are recorded in the store, so that a replay is refused
// after a restart too.
type Interactions struct {
	secret   string
	actor    Actor
	requests Requests
	logger   *slog.Logger
	rejected *prometheus.CounterVec
	actions  *prometheus.CounterVec
}

// maxBody bounds an interaction request.
const maxBody = 1 << 20

// NewInteractions returns the endpoint; the signing secret is read now.
func NewInteractions(cfg Config, actor Actor, requests Requests, reg prometheus.Registerer, logger *slog.Logger) (*Interactions, error) {
	s, err := secret("signing secret", cfg.SigningSecretEnv, cfg.SigningSecretFile)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(reg)
	return &Interactions{secret: s, actor: actor, requests: requests, logger: logger,
		rejected: f.NewCounterVec(prometheus.CounterOpts{Namespace: "scimwatch", Subsystem: "slack", Name: "interactions_rejected_total",
			Help: "Interaction requests refused, by reason: unsigned, stale, forged, replayed, malformed, unavailable (the store that remembers requests did not answer)."}, []string{"reason"}),
		actions: f.NewCounterVec(prometheus.CounterOpts{Namespace: "scimwatch", Subsystem: "slack", Name: "actions_total",
			Help: "Buttons pressed and applied, by action."}, []string{"action"}),
	}, nil
}

var actionKinds = map[string]string{actionAck: alerting.ActAck, actionFalsePositive: alerting.ActFalsePositive, actionSilence: alerting.ActSilence}

// ServeHTTP implements http.Handler.
func (h *Interactions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		h.reject(w, "malformed", http.StatusRequestEntityTooLarge)
		return
	}
	sv, err := slack.NewSecretsVerifier(r.Header, h.secret)
	switch {
	case errors.Is(err, slack.ErrExpiredTimestamp):
		h.reject(w, "stale", http.StatusUnauthorized)
		return
	case err != nil:
		h.reject(w, "unsigned", http.StatusUnauthorized)
		return
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		h.reject(w, "forged", http.StatusUnauthorized)
		return
	}
	// A valid request can be sent again within the five minutes: each
	// signed timestamp and body is taken once.
	ts := r.Header.Get("X-Slack-Request-Timestamp")
	sec, _ := strconv.ParseInt(ts, 10, 64)
	sum := sha256.Sum256(append([]byte(ts+":"), body...))
	sctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	first, err := h.requests.FirstRequest(sctx, hex.EncodeToString(sum[:]), time.Unix(sec, 0))
	cancel()
	if err != nil {
		h.logger.Warn("slack interaction not taken: the store that remembers requests did not answer", "err", err)
		h.reject(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if !first {
		h.reject(w, "replayed", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	var cb slack.InteractionCallback
	if err == nil {
		err = json.Unmarshal([]byte(form.Get("payload")), &cb)
	}
	if err != nil {
		h.reject(w, "malformed", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	by := cb.User.ID
	if name := cb.User.Name; name != "" {
		by += " " + name
	}
	for _, a := range cb.ActionCallback.BlockActions {
		kind, ok := actionKinds[a.ActionID]
		if !ok {
			continue // the dashboard link
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := h.actor.Act(ctx, alerting.Action{Kind: kind, GroupID: a.Value, By: by, Comment: "from Slack"})
		cancel()
		if err != nil {
			h.logger.Warn("slack action not applied", "action", kind, "notification", a.Value, "by", by, "err", err)
			continue
		}
		h.actions.WithLabelValues(kind).Inc()
	}
}

func (h *Interactions) reject(w http.ResponseWriter, reason string, code int) {
	h.rejected.WithLabelValues(reason).Inc()
	h.logger.Warn("slack interaction refused", "reason", reason)
	http.Error(w, reason, code)
}
