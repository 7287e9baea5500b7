package engine

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

// succeededAfterOn is how long after its On request each node's boot phase
// succeeded.
func (s *session) succeededAfterOn(node string) time.Duration {
	var on, done time.Time
	for _, e := range s.log.snapshot() {
		switch {
		case e.node != node:
		case e.reset && e.action == power.PowerOn:
			on = e.at
		case isTransition(PhaseBoot, Succeeded)(e):
			done = e.at
		}
	}
	return done.Sub(on)
}

// nodesByOnTime lists the nodes in the order their On requests were sent.
func (s *session) nodesByOnTime() []string {
	var nodes []string
	for _, e := range s.log.snapshot() {
		if e.reset && e.action == power.PowerOn {
			nodes = append(nodes, e.node)
		}
	}
	return nodes
}

func TestPeersSettleTimeSparesPolls(t *testing.T) {
	const (
		onDelay   = 10 * time.Second
		bootDelay = 40 * time.Second
	)
	synctest.Test(t, func(t *testing.T) {
		// Power-ons a minute apart: each node starts its waits after the
		// ones before it have finished theirs.
		nodes, scripts := manyNodes(4, func(int) nodeScript {
			return nodeScript{initial: power.Off, onDelay: onDelay, bootDelay: bootDelay}
		})
		s := newSession(scripts)
		s.engine.BMC = progressBMC{s.bmc}
		s.engine.Options.BatchSize = 1
		s.engine.Options.BatchInterval = time.Minute
		result, err := s.engine.Run(t.Context(), plan(Boot, Independent, oneBootSet(nodes...)))
		require.NoError(t, err)
		assert.Equal(t, map[Category]int{Succeeded: 4}, result.Counts())

		// The node powered on first learns with the full back-off
		// (1,1,1,1,2,2,4,4,5… s): 7 polls to On, 12 to OSRunning, the
		// initial read and the boot progress read before On.
		byOn := s.nodesByOnTime()
		require.Len(t, byOn, 4)
		assert.Equal(t, 22, s.bmc.readsOf(byOn[0]))
		assert.Equal(t, onDelay+bootDelay+3*time.Second, s.succeededAfterOn(byOn[0]), "lateness of the back-off alone")
		// The later ones first poll half way between the last time a peer
		// was seen short of each goal and the first it was seen there
		// (both counted from the On, OSRunning too), then every second:
		// the initial read, the boot progress read before On and about
		// two polls per goal.
		wantReads := []int{4, 6, 6}
		for i, node := range byOn[1:] {
			assert.Equal(t, wantReads[i], s.bmc.readsOf(node), "reads of the node powered on #%d", i+2)
			late := s.succeededAfterOn(node) - onDelay - bootDelay
			assert.LessOrEqual(t, late, DefaultOptions().PollBase, "%s is seen booted later than one poll", node)
		}
	})
}

func TestSettleTimesAreLearnedPerBootSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow, slowScripts := manyNodes(2, func(int) nodeScript {
			return nodeScript{initial: power.Off, onDelay: time.Minute}
		})
		scripts := map[string]nodeScript{"fast0": {initial: power.Off, onDelay: time.Second}}
		for node, script := range slowScripts {
			scripts[node] = script
		}
		s := newSession(scripts)
		// The slow boot set powers on first and has its settle time
		// learned before the fast one powers on.
		s.engine.Options.BatchSize = 1
		s.engine.Options.BatchInterval = 2 * time.Minute
		bootSets := []BootSetPlan{{Name: "slow", Nodes: slow, BootOrdinal: 0}, {Name: "fast", Nodes: []string{"fast0"}, BootOrdinal: 1}}
		result, err := s.engine.Run(t.Context(), plan(Boot, Independent, bootSets...))
		require.NoError(t, err)
		assert.Equal(t, map[Category]int{Succeeded: 3}, result.Counts())
		assert.Equal(t, time.Second, s.succeededAfterOn("fast0"), "the fast boot set waits for nothing the slow one taught")
	})
}

func TestFollowersPollSparselyUntilAScoutArrives(t *testing.T) {
	const graceful = 28 * time.Second
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(20, func(int) nodeScript {
			return nodeScript{initial: power.On, gracefulDelay: graceful}
		})
		s := newSession(scripts)
		start := time.Now()
		result, err := s.engine.Run(t.Context(), plan(Shutdown, Independent, oneBootSet(nodes...)))
		require.NoError(t, err)
		assert.Equal(t, map[Category]int{Succeeded: 20}, result.Counts())

		// Scouts: the initial read, then polls at 1,2,3,4,6,8,12,16,21,26
		// and 31 s. Followers: the initial read and, woken by the scouts
		// before their own poll at 40 s, one at 31 s.
		readCounts := map[int]int{}
		for _, node := range nodes {
			readCounts[s.bmc.readsOf(node)]++
			done := s.lastSeq(node, isTransition(PhaseShutdown, Succeeded))
			require.NotEqual(t, -1, done)
			assert.LessOrEqual(t, s.log.snapshot()[done].at.Sub(start), graceful+DefaultOptions().PollInterval, "%s seen Off late", node)
		}
		assert.Equal(t, map[int]int{12: scoutsPerGoal, 2: 20 - scoutsPerGoal}, readCounts)
	})
}

func TestFollowersAreWokenWhenAScoutArrives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Scouts see their nodes Off at 3 s; followers would otherwise
		// first poll at 20 s.
		nodes, scripts := manyNodes(scoutsPerGoal+4, func(int) nodeScript {
			return nodeScript{initial: power.On, gracefulDelay: 3 * time.Second}
		})
		s := newSession(scripts)
		start := time.Now()
		result, err := s.engine.Run(t.Context(), plan(Shutdown, Independent, oneBootSet(nodes...)))
		require.NoError(t, err)
		assert.Equal(t, map[Category]int{Succeeded: len(nodes)}, result.Counts())
		for _, node := range nodes {
			done := s.lastSeq(node, isTransition(PhaseShutdown, Succeeded))
			assert.LessOrEqual(t, s.log.snapshot()[done].at.Sub(start), 4*time.Second, "%s waited for its own PollInterval", node)
		}
	})
}
