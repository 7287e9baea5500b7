package boa

import (
	"sync"
	"time"
)

// settleTimes learns, per boot set, how long nodes take to reach the goal of
// an action (Off after GracefulOff, On after On, OSRunning after On), so
// that a node does not poll for a goal long before its peers were ever
// seen to reach it. A boot set is usually one hardware model booting one
// image, and its nodes settle within a poll or two of each other; without
// this, each of 10,000 nodes makes a dozen polls per wait that can only
// read "not yet".
//
// Only bounds that polls proved are kept: a node still short of its goal at
// a poll sent after t, and one that had reached it at a poll answered after
// t. A node's first poll comes no earlier than the smaller of the latest
// "still short" and the earliest "reached" seen so far. In a boot set whose
// nodes take equally long this converges on that time from below; in a
// mixed one it is the fastest node's time, at most one poll late: the
// earliest "reached" caps it.
type settleTimes struct {
	mu    sync.Mutex
	goals map[settleKey]*settleBounds
}

// settleKey is what a node waits for: the goal of an action on a boot set.
// The zero key learns nothing (a resumed wait started at an unknown time
// after its action).
type settleKey struct {
	bootSet string
	goal    string
}

type settleBounds struct {
	stillShort time.Duration // latest time after its action a node was seen short of the goal
	reached    time.Duration // earliest time after its action a node was seen at the goal
}

func newSettleTimes() *settleTimes {
	return &settleTimes{goals: make(map[settleKey]*settleBounds)}
}

// firstPoll is how long after its action a node should first poll for
// key's goal; false until a node has been seen to reach it.
func (s *settleTimes) firstPoll(key settleKey) (time.Duration, bool) {
	if key == (settleKey{}) {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bounds, ok := s.goals[key]
	if !ok {
		return 0, false
	}
	return min(bounds.stillShort, bounds.reached), true
}

// observe notes that a node reached key's goal: it was still short of it at
// a poll sent stillShort after its action (0: none was), and had reached it
// at a poll answered reached after its action.
func (s *settleTimes) observe(key settleKey, stillShort, reached time.Duration) {
	if key == (settleKey{}) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bounds, ok := s.goals[key]
	if !ok {
		s.goals[key] = &settleBounds{stillShort: stillShort, reached: reached}
		return
	}
	bounds.stillShort = max(bounds.stillShort, stillShort)
	bounds.reached = min(bounds.reached, reached)
}
