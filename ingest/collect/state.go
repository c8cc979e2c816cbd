package collect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scimwatch/scimwatch/kafka"
)

// State keeps the collectors' cursors in a compacted Kafka topic of one
// partition: a record per cursor move, keyed by collector and stream, the
// last one of a key being the cursor. Kafka, because the cursor must be
// exactly as durable as the records it covers and is written right after
// them to the same brokers with the same acknowledgement; and so a
// collector needs no disk and can move to another host.
type State struct {
	Client kafka.Client
	Topic  string

	once sync.Once
	w    *kafkago.Writer
}

// Load creates the topic if it is missing and reads it to its end.
func (s *State) Load(ctx context.Context) (map[string][]byte, error) {
	if err := s.Client.CreateCompactedTopic(ctx, s.Topic); err != nil {
		return nil, fmt.Errorf("creating %s: %w", s.Topic, err)
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := s.Client.Dialer().DialLeader(lctx, "tcp", s.Client.Brokers[0], s.Topic, 0)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.Topic, err)
	}
	first, last, err := conn.ReadOffsets()
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.Topic, err)
	}
	cursors := map[string][]byte{}
	if last <= first {
		return cursors, nil
	}
	r := s.Client.PartitionReader(s.Topic, 0, kafka.ReaderConfig{})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return nil, err
	}
	for {
		m, err := r.ReadMessage(lctx)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", s.Topic, err)
		}
		if m.Value == nil {
			delete(cursors, string(m.Key))
		} else {
			cursors[string(m.Key)] = m.Value
		}
		if m.Offset+1 >= last {
			return cursors, nil
		}
	}
}

// Save writes a cursor and returns once the brokers acknowledged it.
func (s *State) Save(ctx context.Context, key string, cursor []byte) error {
	s.once.Do(func() {
		s.w = s.Client.Writer(s.Topic)
		s.w.RequiredAcks = kafkago.RequireAll
		s.w.BatchTimeout = time.Millisecond
		s.w.MaxAttempts = 3
	})
	if cursor == nil {
		return errors.New("nil cursor")
	}
	return s.w.WriteMessages(ctx, kafkago.Message{Key: []byte(key), Value: cursor})
}

// Close closes the writer.
func (s *State) Close() error {
	if s.w == nil {
		return nil
	}
	return s.w.Close()
}
