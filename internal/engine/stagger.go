package engine

import (
	"context"
	"sync"
	"time"
)

// stagger spaces power-on requests against inrush: no interval-long span
// holds more than size of them. It keeps the send times of the last size
// requests (reserved, possibly in the future) in a ring; a new request goes
// out interval after the oldest of them, or now if that has passed. Slots
// are handed out in call order, so no node waits behind later arrivals.
type stagger struct {
	clock    Clock
	interval time.Duration
	mu       sync.Mutex
	sent     []time.Time // ring of the last len(sent) send times
	oldest   int         // index of the oldest send time in sent
}

// newStagger returns nil (no staggering) when size is 0.
func newStagger(clock Clock, size int, interval time.Duration) *stagger {
	if size == 0 {
		return nil
	}
	return &stagger{clock: clock, interval: interval, sent: make([]time.Time, size)}
}

// wait blocks until the caller may send one power-on request. A nil stagger
// never waits. Its error means ctx ended; the slot is then simply unused.
func (s *stagger) wait(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	now := s.clock.Now()
	at := now
	if oldest := s.sent[s.oldest]; !oldest.IsZero() {
		at = later(now, oldest.Add(s.interval))
	}
	s.sent[s.oldest] = at
	s.oldest = (s.oldest + 1) % len(s.sent)
	s.mu.Unlock()
	if !at.After(now) {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.clock.After(at.Sub(now)):
		return nil
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
