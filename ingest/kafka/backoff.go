package kafka

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is capped exponential backoff with jitter.
type backoff struct {
	initial, max, next time.Duration
}

func (in *Ingester) backoff() *backoff {
	return &backoff{initial: in.cfg.Retry.InitialBackoff, max: in.cfg.Retry.MaxBackoff}
}

func (b *backoff) reset() { b.next = 0 }

// wait sleeps for the next delay, or until ctx is done (false).
func (b *backoff) wait(ctx context.Context) bool {
	if b.next == 0 {
		b.next = b.initial
	}
	d := b.next/2 + time.Duration(rand.Int64N(int64(b.next/2)+1))
	if b.next *= 2; b.next > b.max {
		b.next = b.max
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
