package engine

import "sync"

// progressQueue hands recorded transitions to Engine.Progress on a
// goroutine of its own, so that a node neither waits for the display nor
// runs it: formatting a transition (fmt, time layouts) grows a goroutine's
// stack from 4 to 8 KB, which each of 10,000 parked nodes would keep.
// A nil *progressQueue drops everything.
type progressQueue struct {
	report func(Transition)

	mu      sync.Mutex
	pending []Transition
	closed  bool
	wake    chan struct{} // capacity 1: pending is not empty, or closed
	done    chan struct{}
}

func newProgressQueue(report func(Transition)) *progressQueue {
	if report == nil {
		return nil
	}
	q := &progressQueue{report: report, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

func (q *progressQueue) add(t Transition) {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.pending = append(q.pending, t)
	q.mu.Unlock()
	q.signal()
}

func (q *progressQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default: // already signalled
	}
}

func (q *progressQueue) run() {
	defer close(q.done)
	for range q.wake {
		q.mu.Lock()
		batch, closed := q.pending, q.closed
		q.pending = nil
		q.mu.Unlock()
		for _, t := range batch {
			q.report(t)
		}
		if closed {
			return
		}
	}
}

// close reports what is still queued and returns once Progress has seen
// it all; nothing may be added after it.
func (q *progressQueue) close() {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
	<-q.done
}
