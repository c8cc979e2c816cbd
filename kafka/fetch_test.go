package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// fetcher fails its first fails fetches, then returns records.
type fetcher struct {
	fails, calls int
}

func (f *fetcher) FetchMessage(ctx context.Context) (kafkago.Message, error) {
	f.calls++
	if f.calls <= f.fails {
		return kafkago.Message{}, errors.New("[56] Kafka Storage Error")
	}
	return kafkago.Message{Offset: int64(f.calls)}, nil
}

// TestFetchRetries: every consumer's fetch (ingest's and the detector's)
// retries an error with backoff for as long as its context lives, reports
// each, and gives up only when the context ends.
func TestFetchRetries(t *testing.T) {
	f := &fetcher{fails: 5}
	var reported int
	bo := &Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond}
	m, ok := Fetch(context.Background(), f, bo, func(error) { reported++ })
	if !ok || m.Offset != 6 || reported != 5 {
		t.Errorf("got offset %d ok %v after %d errors reported, want offset 6 after 5", m.Offset, ok, reported)
	}
	if bo.next != 0 {
		t.Error("a success does not reset the backoff")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, ok := Fetch(ctx, &fetcher{fails: 1 << 30}, &Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}, func(error) {}); ok {
		t.Error("a fetch that never succeeds returned a record")
	}
	if ctx.Err() == nil {
		t.Error("Fetch gave up before its context ended")
	}
}
