package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/slack-go/slack"

	"github.com/scimwatch/scimwatch/alerting"
)

// metadataType marks scimwatch's messages, with the notification's id in
// their metadata, so that a post whose outcome a crash lost can be found
// again rather than posted twice.
const metadataType = "scimwatch_notification"

// Receiver posts and edits notifications in Slack.
type Receiver struct {
	cfg       Config
	client    *slack.Client
	dashboard *template.Template
	logger    *slog.Logger
	now       func() time.Time
}

var _ alerting.Receiver = (*Receiver)(nil)

// New returns a Receiver. The bot token is read now, from the environment
// or its file.
func New(cfg Config, logger *slog.Logger) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	token, err := secret("token", cfg.TokenEnv, cfg.TokenFile)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	api := cfg.APIURL
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	r := &Receiver{cfg: cfg, logger: logger, now: time.Now,
		client: slack.New(token, slack.OptionAPIURL(api), slack.OptionHTTPClient(&http.Client{Timeout: 10 * time.Second}))}
	if cfg.DashboardURL != "" {
		r.dashboard = template.Must(template.New("dashboard").Option("missingkey=error").Parse(cfg.DashboardURL))
	}
	return r, nil
}

// Name implements alerting.Receiver.
func (r *Receiver) Name() string { return "slack" }

// Resend implements alerting.Receiver: a Slack message stays.
func (r *Receiver) Resend() time.Duration { return 0 }

// route returns the channel of n, and whether it redacts.
func (r *Receiver) route(n *alerting.Notification) (string, bool) {
	first := n.Alerts[0]
	first.Severity = n.Severity()
	for _, rt := range r.cfg.Routes {
		if rt.Match.Matches(&first) {
			return rt.Channel, rt.Redact
		}
	}
	return r.cfg.Channel, r.cfg.Redact
}

// Notify implements alerting.Receiver: the first delivery posts the
// message; the next ones edit it and reply in its thread with what
// changed.
func (r *Receiver) Notify(ctx context.Context, n *alerting.Notification, last alerting.Delivery, record func(alerting.Delivery) error) (alerting.Delivery, error) {
	channel, redact := r.route(n)
	msg := render(n, r.dashboard, redact)
	ref := last.Ref
	if ref == "" && !last.Pending.IsZero() {
		// A post began before a crash or a lost answer: it may be there.
		ts, err := r.find(ctx, channel, n.ID, last.Pending)
		if err != nil {
			return alerting.Delivery{}, classify("looking for the message posted before a restart", err)
		}
		if ts != "" {
			ref = channel + "/" + ts
			r.logger.Info("found the message posted before a restart; editing it", "notification", n.ID, "ts", ts)
		}
	}
	if ref == "" {
		pending := last
		pending.Pending = r.now()
		if err := record(pending); err != nil {
			return alerting.Delivery{}, &alerting.RetryError{Err: fmt.Errorf("recording the post before making it: %w", err)}
		}
		_, ts, err := r.client.PostMessageContext(ctx, channel,
			slack.MsgOptionText(msg.text, false), slack.MsgOptionBlocks(msg.blocks...),
			slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{"notification_id": n.ID}}))
		if err != nil {
			return alerting.Delivery{}, classify("posting to "+channel, err)
		}
		return alerting.Delivery{Ref: channel + "/" + ts, Shown: shownOf(n)}, nil
	}
	ch, ts, _ := strings.Cut(ref, "/")
	if _, _, _, err := r.client.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText(msg.text, false), slack.MsgOptionBlocks(msg.blocks...)); err != nil {
		return alerting.Delivery{}, classify("editing the message in "+ch, err)
	}
	if reply := change(n, last.Shown); reply != "" && last.Shown != "" {
		opts := []slack.MsgOption{slack.MsgOptionTS(ts), slack.MsgOptionText(reply, false)}
		if n.Repeat || n.Status() == alerting.StatusResolved {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
		if _, _, err := r.client.PostMessageContext(ctx, ch, opts...); err != nil {
			return alerting.Delivery{}, classify("replying in the thread", err)
		}
	}
	return alerting.Delivery{Ref: ref, Shown: shownOf(n)}, nil
}

// find looks in channel's history since a little before since for the
// message of notification id, and returns its ts ("" if none).
func (r *Receiver) find(ctx context.Context, channel, id string, since time.Time) (string, error) {
	params := &slack.GetConversationHistoryParameters{ChannelID: channel, IncludeAllMetadata: true, Limit: 200,
		Oldest: strconv.FormatInt(since.Add(-time.Minute).Unix(), 10)}
	for page := 0; page < 10; page++ {
		h, err := r.client.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", err
		}
		for _, m := range h.Messages {
			if m.Metadata.EventType == metadataType && fmt.Sprint(m.Metadata.EventPayload["notification_id"]) == id {
				return m.Timestamp, nil
			}
		}
		if !h.HasMore || h.ResponseMetaData.NextCursor == "" {
			break
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
	return "", nil
}

// retryableAPIErrors are Slack's own errors worth retrying.
var retryableAPIErrors = []string{"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}

// classify wraps err, as retryable (429 with its Retry-After, 5xx, network
// errors) or not (a bad channel or token, which needs people).
func classify(what string, err error) error {
	err = fmt.Errorf("slack: %s: %w", what, err)
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var ue *url.Error
	var ne net.Error
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return &alerting.RetryError{Err: err, After: rl.RetryAfter}
	case errors.As(err, &sc):
		if sc.Retryable() {
			return &alerting.RetryError{Err: err}
		}
		return err
	case errors.As(err, &se):
		if slices.Contains(retryableAPIErrors, se.Err) {
			return &alerting.RetryError{Err: err}
		}
		return err
	case errors.As(err, &ue), errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return &alerting.RetryError{Err: err}
	}
	return err
}
