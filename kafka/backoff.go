package kafka

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is capped exponential backoff with jitter.
type Backoff struct {
	Initial, Max time.Duration
	next         time.Duration
}

// Reset starts the next wait from Initial again.
func (b *Backoff) Reset() { b.next = 0 }

// Wait sleeps for the next delay, or until ctx is done (false).
func (b *Backoff) Wait(ctx context.Context) bool {
	if b.next == 0 {
		b.next = b.Initial
	}
	d := b.next/2 + time.Duration(rand.Int64N(int64(b.next/2)+1))
	if b.next *= 2; b.next > b.Max {
		b.next = b.Max
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
