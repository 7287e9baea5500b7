package engine

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
// Until a node has reached the goal, a few scouts per goal poll with the
// full back-off; the others (followers) poll only every
// followerIntervals×PollInterval and are woken as soon as any node gets
// there. That can make a follower faster than every scout late by up to
// that interval, never the session: the slowest node of a boot set is
// polled with the back-off once a faster one has arrived.
//
// Once one has, only bounds that polls proved are used: a node still short
// of its goal at a poll sent after t, and one that had reached it at a poll
// answered after t. A node's first poll comes no earlier than the smaller
// of the latest "still short" and the earliest "reached" seen so far. In a
// boot set whose nodes take equally long this converges on that time from
// below; in a mixed one it is the fastest node's time, at most one poll
// late: the earliest "reached" caps it.
type settleTimes struct {
	mu    sync.Mutex
	goals map[settleKey]*settleGoal
}

const (
	// scoutsPerGoal is how many nodes of a boot set poll for a goal with the
	// full back-off while none has reached it.
	scoutsPerGoal = 8
	// followerIntervals is how many PollIntervals apart the other nodes
	// poll meanwhile.
	followerIntervals = 8
	// watchedIntervals is how many PollIntervals apart a node whose BMC
	// reports its changes (see Watcher) is read without one: a stream
	// that drops says so, so this only guards against a report lost.
	watchedIntervals = 16
)

// settleKey is what a node waits for: the goal of an action on a boot set.
// The zero key learns nothing (a resumed wait started at an unknown time
// after its action).
type settleKey struct {
	bootSet string
	goal    string
}

type settleGoal struct {
	scouts int
	// reachedOnce is closed when the first node reaches the goal; the
	// bounds below are set from then on.
	reachedOnce chan struct{}
	stillShort  time.Duration // latest time after its action a node was seen short of the goal
	reached     time.Duration // earliest time after its action a node was seen at the goal
}

func newSettleTimes() *settleTimes {
	return &settleTimes{goals: make(map[settleKey]*settleGoal)}
}

// pollPlan is how one wait polls, from what its peers have taught so far.
type pollPlan struct {
	// known: a peer has reached the goal; the first poll comes no earlier
	// than settled after the action.
	known   bool
	settled time.Duration
	// follower: no peer has reached the goal and enough scouts poll for
	// it; poll every followerIntervals×PollInterval until reached is
	// closed.
	follower bool
	reached  <-chan struct{}
}

// plan is how a wait for key's goal that starts now should poll.
func (s *settleTimes) plan(key settleKey) pollPlan {
	if key == (settleKey{}) {
		return pollPlan{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	goal := s.goal(key)
	select {
	case <-goal.reachedOnce:
		return pollPlan{known: true, settled: goal.settled()}
	default:
	}
	if goal.scouts < scoutsPerGoal {
		goal.scouts++
		return pollPlan{}
	}
	return pollPlan{follower: true, reached: goal.reachedOnce}
}

// settled is when a node's first poll for the goal is due. Between the
// latest "still short" and the earliest "reached" it halves the gap: a
// node that reads "not yet" there moves the first bound up, one that
// reads "reached" the second down, so a boot set whose nodes take equally
// long converges on their time while each node reads about once or twice.
// Where the bounds cross (nodes that take different times) it is the
// fastest node's time.
func (g *settleGoal) settled() time.Duration {
	if g.stillShort == 0 || g.stillShort >= g.reached {
		// No node was seen short of it (0), or they take different times.
		return g.reached
	}
	return g.stillShort + (g.reached-g.stillShort)/2
}

// known is when key's goal was seen settled, if it was; it counts no
// scout.
func (s *settleTimes) known(key settleKey) (time.Duration, bool) {
	if key == (settleKey{}) {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	goal, ok := s.goals[key]
	if !ok {
		return 0, false
	}
	select {
	case <-goal.reachedOnce:
		return goal.settled(), true
	default:
		return 0, false
	}
}

// goal returns key's goal, creating it; s.mu is held.
func (s *settleTimes) goal(key settleKey) *settleGoal {
	goal, ok := s.goals[key]
	if !ok {
		goal = &settleGoal{reachedOnce: make(chan struct{})}
		s.goals[key] = goal
	}
	return goal
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
	goal := s.goal(key)
	select {
	case <-goal.reachedOnce:
		goal.stillShort = max(goal.stillShort, stillShort)
		goal.reached = min(goal.reached, reached)
	default:
		goal.stillShort, goal.reached = stillShort, reached
		close(goal.reachedOnce)
	}
}
