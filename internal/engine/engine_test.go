package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

// session is one engine run against fakes, inside a synctest bubble.
type session struct {
	log      *eventLog
	bmc      *fakeBMC
	recorder *fakeRecorder
	engine   *Engine
}

func newSession(scripts map[string]nodeScript) *session {
	log := &eventLog{}
	s := &session{log: log, bmc: newFakeBMC(log, scripts), recorder: &fakeRecorder{log: log}}
	s.engine = &Engine{BMC: s.bmc, Recorder: s.recorder, Clock: RealClock()}
	return s
}

// manyNodes names count nodes n00, n01, … and scripts each one.
func manyNodes(count int, script func(i int) nodeScript) ([]string, map[string]nodeScript) {
	nodes := make([]string, count)
	scripts := make(map[string]nodeScript, count)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%02d", i)
		scripts[nodes[i]] = script(i)
	}
	return nodes, scripts
}

func plan(op Operation, pace Pace, bootSets ...BootSetPlan) Plan {
	return Plan{SessionID: "s1", Operation: op, Pace: pace, BootSets: bootSets}
}

func oneBootSet(nodes ...string) BootSetPlan {
	return BootSetPlan{Name: "compute", Nodes: nodes}
}

// transitions renders node's recorded transitions as "phase/category" or
// "phase/category/action".
func (s *session) transitions(node string) []string {
	var out []string
	for _, e := range s.log.snapshot() {
		if !isTransitionEvent(e) || e.node != node {
			continue
		}
		text := string(e.transition.Phase) + "/" + string(e.transition.Category)
		if e.transition.Action != "" {
			text += "/" + string(e.transition.Action)
		}
		if e.transition.Sent {
			text += "/sent"
		}
		out = append(out, text)
	}
	return out
}

func (s *session) resets(node string) []power.Action {
	var out []power.Action
	for _, e := range s.log.snapshot() {
		if e.reset && e.node == node {
			out = append(out, e.action)
		}
	}
	return out
}

// firstSeq and lastSeq find the first/last event of node matching match; -1
// if none.
func (s *session) firstSeq(node string, match func(event) bool) int {
	for _, e := range s.log.snapshot() {
		if e.node == node && match(e) {
			return e.seq
		}
	}
	return -1
}

func (s *session) lastSeq(node string, match func(event) bool) int {
	seq := -1
	for _, e := range s.log.snapshot() {
		if e.node == node && match(e) {
			seq = e.seq
		}
	}
	return seq
}

// runCancelledAfter runs p and cancels it after d of (virtual) time; it
// checks that Run reports the cancellation and that nothing is done once
// it has returned (synctest.Test fails on any goroutine left blocked).
func (s *session) runCancelledAfter(t *testing.T, d time.Duration, p Plan) Result {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(d, cancel)
	result, err := s.engine.Run(ctx, p)
	require.ErrorIs(t, err, context.Canceled)
	recorded := len(s.log.snapshot())
	time.Sleep(100 * time.Hour)
	assert.Len(t, s.log.snapshot(), recorded, "nothing happens after Run returned")
	return result
}

func isReset(action power.Action) func(event) bool {
	return func(e event) bool { return e.reset && e.action == action }
}

func isTransitionEvent(e event) bool {
	return !e.reset && !e.prepare && !e.finish && e.configure == nil
}

func isTransition(phase Phase, category Category) func(event) bool {
	return func(e event) bool {
		return isTransitionEvent(e) && e.transition.Phase == phase && e.transition.Category == category
	}
}

// inPhase matches everything done to a node for phase: its transitions, the
// Resets sent in it and its boot preparation and finish. Configure calls
// are logged without a node; see configureCalls.
func inPhase(phase Phase) func(event) bool {
	shutdownAction := func(a power.Action) bool { return a == power.GracefulOff || a == power.ForceOff }
	return func(e event) bool {
		switch {
		case e.reset:
			return phase != PhaseConfigure && shutdownAction(e.action) == (phase == PhaseShutdown)
		case e.prepare, e.finish:
			return phase == PhaseBoot
		}
		return isTransitionEvent(e) && e.transition.Phase == phase
	}
}

func isFinal(phase Phase) func(event) bool {
	return func(e event) bool {
		return isTransitionEvent(e) && e.transition.Phase == phase && e.transition.Category != InProgress
	}
}

// configureCalls lists the Configure calls in order, each with its nodes
// sorted (they come in the order they finished booting).
func (s *session) configureCalls() []ConfigureRequest {
	var out []ConfigureRequest
	for _, e := range s.log.snapshot() {
		if e.configure != nil {
			call := *e.configure
			call.Nodes = slices.Sorted(slices.Values(call.Nodes))
			out = append(out, call)
		}
	}
	return out
}

func (s *session) prepares(node string) int {
	count := 0
	for _, e := range s.log.snapshot() {
		if e.prepare && e.node == node {
			count++
		}
	}
	return count
}

func TestRunSingleNode(t *testing.T) {
	const (
		sdStart    = "shutdown/in_progress"
		sdGraceful = "shutdown/in_progress/graceful-off"
		sdForce    = "shutdown/in_progress/force-off"
		sdDone     = "shutdown/succeeded"
		sdFailed   = "shutdown/failed"
		bootStart  = "boot/in_progress"
		bootOn     = "boot/in_progress/on"
		bootDone   = "boot/succeeded"
		bootFailed = "boot/failed"
		// An action is recorded as intended before it is sent, and as sent
		// once the BMC accepted it.
		sdGracefulSent = sdGraceful + "/sent"
		sdForceSent    = sdForce + "/sent"
		bootOnSent     = bootOn + "/sent"
	)
	on3 := []power.Action{power.PowerOn, power.PowerOn, power.PowerOn}
	tests := []struct {
		name            string
		op              Operation
		script          nodeScript
		bootProgress    bool
		wantTransitions []string
		wantResets      []power.Action
		wantCategory    Category
		wantPhase       Phase
		wantReason      []string // substrings of the reason
	}{
		{
			name:            "shutdown of a node already off sends nothing",
			op:              Shutdown,
			script:          nodeScript{initial: power.Off},
			wantTransitions: []string{sdStart, sdDone},
			wantCategory:    Succeeded, wantPhase: PhaseShutdown,
		},
		{
			name:            "graceful shutdown suffices",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, gracefulDelay: 40 * time.Second},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdDone},
			wantResets:      []power.Action{power.GracefulOff},
			wantCategory:    Succeeded, wantPhase: PhaseShutdown,
		},
		{
			name:            "ignored graceful shutdown escalates to force off",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, gracefulDelay: never, forceDelay: 3 * time.Second},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdForce, sdForceSent, sdDone},
			wantResets:      []power.Action{power.GracefulOff, power.ForceOff},
			wantCategory:    Succeeded, wantPhase: PhaseShutdown,
		},
		{
			name:            "graceful shutdown slower than its timeout is waited for while powering off",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, gracefulDelay: 301 * time.Second, forceDelay: 2 * time.Second},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdStart, sdDone},
			wantResets:      []power.Action{power.GracefulOff},
			wantCategory:    Succeeded, wantPhase: PhaseShutdown,
		},
		{
			name:            "graceful shutdown still powering off after the force-off timeout escalates",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, gracefulDelay: 600 * time.Second, forceDelay: 2 * time.Second},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdStart, sdForce, sdForceSent, sdDone},
			wantResets:      []power.Action{power.GracefulOff, power.ForceOff},
			wantCategory:    Succeeded, wantPhase: PhaseShutdown,
		},
		{
			name:            "a node powering on is waited for, then shut down gracefully",
			op:              Shutdown,
			script:          nodeScript{initial: power.Off, becoming: power.On, becomingDelay: time.Minute, busyIgnoresReset: true, gracefulDelay: 30 * time.Second},
			wantTransitions: []string{sdStart, sdStart, sdGraceful, sdGracefulSent, sdDone},
			wantResets:      []power.Action{power.GracefulOff},
			wantCategory:    Succeeded, wantPhase: PhaseShutdown,
		},
		{
			name:            "a BMC without a graceful shutdown goes straight to force off",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, noReset: []power.Action{power.GracefulOff}, forceDelay: time.Second},
			wantTransitions: []string{sdStart, sdForce, sdForceSent, sdDone},
			wantResets:      []power.Action{power.ForceOff},
			wantCategory:    Succeeded, wantPhase: PhaseShutdown,
		},
		{
			name:            "a BMC that cannot power off fails its node untouched",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, noReset: []power.Action{power.GracefulOff, power.ForceOff}},
			wantTransitions: []string{sdStart, sdFailed},
			wantCategory:    Failed, wantPhase: PhaseShutdown,
			wantReason: []string{"cannot power off: graceful-off: no suitable reset type offered; force-off: no suitable reset type offered; no power action sent"},
		},
		{
			name:            "a reboot of a node whose BMC cannot power on does not shut it down",
			op:              Reboot,
			script:          nodeScript{initial: power.On, noReset: []power.Action{power.PowerOn}},
			wantTransitions: []string{sdStart, sdFailed},
			wantCategory:    Failed, wantPhase: PhaseShutdown,
			wantReason: []string{"cannot power on: no suitable reset type offered; no power action sent"},
		},
		{
			name:            "node that never powers off fails with both timeouts",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, gracefulDelay: never, forceDelay: never},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdForce, sdForceSent, sdFailed},
			wantResets:      []power.Action{power.GracefulOff, power.ForceOff},
			wantCategory:    Failed, wantPhase: PhaseShutdown,
			wantReason: []string{"did not power off: graceful shutdown (GracefulShutdown) accepted but power stayed On for 300s; " +
				"then forced power-off (ForceOff) accepted but power stayed On for 180s"},
		},
		{
			name:            "transient read errors while polling are retried",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, gracefulDelay: 10 * time.Second, pollErrors: 5},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdDone},
			wantResets:      []power.Action{power.GracefulOff},
			wantCategory:    Succeeded, wantPhase: PhaseShutdown,
		},
		{
			name:            "read errors until the deadline become the reason",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, gracefulDelay: 10 * time.Hour, forceDelay: 10 * time.Hour, pollErrors: 1 << 20},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdForce, sdForceSent, sdFailed},
			wantResets:      []power.Action{power.GracefulOff, power.ForceOff},
			wantCategory:    Failed, wantPhase: PhaseShutdown,
			wantReason: []string{"last read error: 503 Service Unavailable"},
		},
		{
			name:            "unreadable power state fails the node without action",
			op:              Shutdown,
			script:          nodeScript{initial: power.On, brokenReads: true},
			wantTransitions: []string{sdStart, sdFailed},
			wantCategory:    Failed, wantPhase: PhaseShutdown,
			wantReason: []string{"read power state: connection refused"},
		},
		{
			name:            "boot powers on",
			op:              Boot,
			script:          nodeScript{initial: power.Off, onDelay: 20 * time.Second},
			wantTransitions: []string{bootStart, bootOn, bootOnSent, bootDone},
			wantResets:      []power.Action{power.PowerOn},
			wantCategory:    Succeeded, wantPhase: PhaseBoot,
		},
		{
			name:            "boot excludes a node already on",
			op:              Boot,
			script:          nodeScript{initial: power.On},
			wantTransitions: []string{bootStart, "boot/excluded"},
			wantCategory:    Excluded, wantPhase: PhaseBoot,
			wantReason: []string{"already on (use reboot)"},
		},
		{
			name:            "On refused twice then accepted succeeds",
			op:              Boot,
			script:          nodeScript{initial: power.Off, onErrors: 2, onDelay: 5 * time.Second},
			wantTransitions: []string{bootStart, bootOn, bootOn, bootOn, bootOnSent, bootDone},
			wantResets:      on3,
			wantCategory:    Succeeded, wantPhase: PhaseBoot,
		},
		{
			name:            "On always refused fails after exactly RetryPolicy attempts",
			op:              Boot,
			script:          nodeScript{initial: power.Off, onErrors: 100},
			wantTransitions: []string{bootStart, bootOn, bootOn, bootOn, bootFailed},
			wantResets:      on3,
			wantCategory:    Failed, wantPhase: PhaseBoot,
			wantReason: []string{"did not power on after 3 attempts", "409 Conflict"},
		},
		{
			name:            "On accepted but never reached fails after RetryPolicy attempts",
			op:              Boot,
			script:          nodeScript{initial: power.Off, onDelay: never},
			wantTransitions: []string{bootStart, bootOn, bootOnSent, bootOn, bootOnSent, bootOn, bootOnSent, bootFailed},
			wantResets:      on3,
			wantCategory:    Failed, wantPhase: PhaseBoot,
			wantReason: []string{"did not power on after 3 attempts: last: power-on (On) accepted but power stayed Off for 120s"},
		},
		{
			name:            "On is not sent again to a node still powering on",
			op:              Boot,
			script:          nodeScript{initial: power.Off, onDelay: 150 * time.Second, busyIgnoresReset: true},
			wantTransitions: []string{bootStart, bootOn, bootOnSent, bootStart, bootDone},
			wantResets:      []power.Action{power.PowerOn},
			wantCategory:    Succeeded, wantPhase: PhaseBoot,
		},
		{
			name:            "a node powering off is waited for before On",
			op:              Boot,
			script:          nodeScript{initial: power.On, becoming: power.Off, becomingDelay: 40 * time.Second, busyIgnoresReset: true, onDelay: 10 * time.Second},
			wantTransitions: []string{bootStart, bootStart, bootOn, bootOnSent, bootDone},
			wantResets:      []power.Action{power.PowerOn},
			wantCategory:    Succeeded, wantPhase: PhaseBoot,
		},
		{
			name:            "On reached just after the wait is not sent again",
			op:              Boot,
			script:          nodeScript{initial: power.Off, onDelay: 122 * time.Second},
			wantTransitions: []string{bootStart, bootOn, bootOnSent, bootDone},
			wantResets:      []power.Action{power.PowerOn},
			wantCategory:    Succeeded, wantPhase: PhaseBoot,
		},
		{
			name:            "boot waits for OSRunning where the BMC reports boot progress",
			op:              Boot,
			script:          nodeScript{initial: power.Off, onDelay: 10 * time.Second, bootDelay: 15 * time.Minute},
			bootProgress:    true,
			wantTransitions: []string{bootStart, bootOn, bootOnSent, bootDone},
			wantResets:      []power.Action{power.PowerOn},
			wantCategory:    Succeeded, wantPhase: PhaseBoot,
		},
		{
			name:            "boot fails when OSRunning never comes",
			op:              Boot,
			script:          nodeScript{initial: power.Off, onDelay: 10 * time.Second, bootDelay: never},
			bootProgress:    true,
			wantTransitions: []string{bootStart, bootOn, bootOnSent, bootFailed},
			wantResets:      []power.Action{power.PowerOn},
			wantCategory:    Failed, wantPhase: PhaseBoot,
			wantReason: []string{"not booted", "boot progress OSRunning not reached within 20m0s (last boot progress OSBootStarted)"},
		},
		{
			name:            "reboot shuts down then powers on without rereading",
			op:              Reboot,
			script:          nodeScript{initial: power.On, gracefulDelay: 30 * time.Second, onDelay: 30 * time.Second},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdDone, bootStart, bootOn, bootOnSent, bootDone},
			wantResets:      []power.Action{power.GracefulOff, power.PowerOn},
			wantCategory:    Succeeded, wantPhase: PhaseBoot,
		},
		{
			name:            "reboot of a node already off just boots it",
			op:              Reboot,
			script:          nodeScript{initial: power.Off, onDelay: 30 * time.Second},
			wantTransitions: []string{sdStart, sdDone, bootStart, bootOn, bootOnSent, bootDone},
			wantResets:      []power.Action{power.PowerOn},
			wantCategory:    Succeeded, wantPhase: PhaseBoot,
		},
		{
			name:            "reboot whose shutdown fails never boots",
			op:              Reboot,
			script:          nodeScript{initial: power.On, gracefulDelay: never, forceDelay: never},
			wantTransitions: []string{sdStart, sdGraceful, sdGracefulSent, sdForce, sdForceSent, sdFailed},
			wantResets:      []power.Action{power.GracefulOff, power.ForceOff},
			wantCategory:    Failed, wantPhase: PhaseShutdown,
			wantReason: []string{"did not power off"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSession(map[string]nodeScript{"n1": tt.script})
				if tt.bootProgress {
					s.engine.BMC = progressBMC{s.bmc}
				}
				var progressed []Transition
				s.engine.Progress = func(tr Transition) { progressed = append(progressed, tr) }

				result, err := s.engine.Run(t.Context(), plan(tt.op, Independent, oneBootSet("n1")))
				require.NoError(t, err)

				assert.Equal(t, tt.wantTransitions, s.transitions("n1"))
				assert.Equal(t, tt.wantResets, s.resets("n1"))
				assert.Len(t, progressed, len(tt.wantTransitions))
				got := result.Nodes["n1"]
				assert.Equal(t, tt.wantCategory, got.Category)
				assert.Equal(t, tt.wantPhase, got.Phase)
				assert.Equal(t, "compute", got.BootSet)
				for _, want := range tt.wantReason {
					assert.Contains(t, got.Reason, want)
				}
				if tt.wantReason == nil {
					assert.Empty(t, got.Reason)
				}
			})
		})
	}
}

// TestTransitionsCarryThePowerStateLastRead: each transition after the
// phase's first read says what that read (or a later one) found, so a
// session stopped mid-operation can tell where each node was left.
func TestTransitionsCarryThePowerStateLastRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSession(map[string]nodeScript{"n1": {initial: power.On, gracefulDelay: 10 * time.Second, onDelay: time.Second}})
		_, err := s.engine.Run(t.Context(), plan(Reboot, Independent, oneBootSet("n1")))
		require.NoError(t, err)
		var got []string
		for _, e := range s.log.snapshot() {
			if isTransitionEvent(e) && e.node == "n1" {
				got = append(got, fmt.Sprintf("%s/%s/%s/%s", e.transition.Phase, e.transition.Category, e.transition.Action, e.transition.PowerState))
			}
		}
		assert.Equal(t, []string{
			"shutdown/in_progress//",               // nothing read yet
			"shutdown/in_progress/graceful-off/On", // the intent: read On
			"shutdown/in_progress/graceful-off/On", // sent while On
			"shutdown/succeeded//Off",
			"boot/in_progress//",
			"boot/in_progress/on/Off",
			"boot/in_progress/on/Off",
			"boot/succeeded//On",
		}, got)
	})
}

// Every Reset is preceded by an in_progress transition naming it, with no
// other event of that node in between: the durable intent resume relies on.
func TestRunRecordsIntentBeforeEachReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(30, func(i int) nodeScript {
			return nodeScript{initial: power.On, gracefulDelay: time.Duration(i%4) * 100 * time.Second, forceDelay: time.Second, onErrors: i % 3, onDelay: time.Duration(i) * time.Second}
		})
		s := newSession(scripts)
		_, err := s.engine.Run(t.Context(), plan(Reboot, Independent, oneBootSet(nodes...)))
		require.NoError(t, err)

		resets := 0
		for _, name := range nodes {
			var previous *event
			for _, e := range s.log.snapshot() {
				if e.node != name {
					continue
				}
				if e.reset {
					resets++
					require.NotNil(t, previous, "%s: reset %s without intent", name, e.action)
					assert.Equal(t, InProgress, previous.transition.Category)
					assert.Equal(t, e.action, previous.transition.Action)
				}
				previous = &e
			}
		}
		assert.Greater(t, resets, 2*len(nodes))
	})
}

// Every action on a node (reset, boot override set or undone,
// configuration) comes after all of the node's transitions so far are
// durable, and only an action waits for that: a reboot needs one Sync per
// action, not one per transition.
func TestRunActsOnlyOnDurableTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(30, func(i int) nodeScript {
			return nodeScript{initial: power.On, gracefulDelay: time.Duration(i%4) * 100 * time.Second, forceDelay: time.Second, onErrors: i % 3, onDelay: time.Duration(i) * time.Second}
		})
		s := newSession(scripts)
		s.engine.Boot = &fakePreparer{log: s.log}
		s.engine.Configure = &fakeConfigurer{log: s.log, took: time.Second, results: allSucceed}
		bootSet := oneBootSet(nodes...)
		bootSet.Configuration = "site"
		result, err := s.engine.Run(t.Context(), plan(Reboot, Independent, bootSet))
		require.NoError(t, err)
		require.Equal(t, map[Category]int{Succeeded: len(nodes)}, result.Counts())

		kinds := map[string]int{}
		transitions := 0
		for _, e := range s.log.snapshot() {
			switch {
			case e.reset:
				kinds["reset"]++
			case e.prepare:
				kinds["prepare"]++
			case e.finish:
				kinds["finish"]++
			case e.configure != nil:
				kinds["configure"]++
			default:
				transitions++
				continue
			}
			assert.Zero(t, e.notDurable, "event %d (%v %s %s): acted on before its node's transitions were durable", e.seq, e.acts(), e.action, e.transition.Phase)
		}
		assert.Greater(t, kinds["reset"], 2*len(nodes))
		assert.Equal(t, len(nodes), kinds["prepare"])
		assert.Equal(t, len(nodes), kinds["finish"])
		assert.Positive(t, kinds["configure"])
		assert.Less(t, s.recorder.syncs.Load(), int64(transitions), "transitions that precede only reads wait for no Sync of their own")
	})
}

func TestRunPace(t *testing.T) {
	tests := []struct {
		pace                    Pace
		wantFastOnBeforeSlowOff bool
	}{
		{pace: Independent, wantFastOnBeforeSlowOff: true},
		{pace: Lockstep, wantFastOnBeforeSlowOff: false},
	}
	for _, tt := range tests {
		t.Run(string(tt.pace), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSession(map[string]nodeScript{
					"fast": {initial: power.On, gracefulDelay: 5 * time.Second, onDelay: 5 * time.Second},
					"slow": {initial: power.On, gracefulDelay: 200 * time.Second, onDelay: 5 * time.Second},
				})
				result, err := s.engine.Run(t.Context(), plan(Reboot, tt.pace, oneBootSet("fast", "slow")))
				require.NoError(t, err)
				assert.Equal(t, map[Category]int{Succeeded: 2}, result.Counts())

				fastOn := s.firstSeq("fast", isReset(power.PowerOn))
				slowOff := s.firstSeq("slow", isTransition(PhaseShutdown, Succeeded))
				require.NotEqual(t, -1, fastOn)
				require.NotEqual(t, -1, slowOff)
				assert.Equal(t, tt.wantFastOnBeforeSlowOff, fastOn < slowOff)
			})
		})
	}
}

func TestRunOrdinals(t *testing.T) {
	// Delays are chosen so that without ordinals the order would differ:
	// the late groups' nodes are the fast ones.
	// Configure is ordered by boot ordinal; d has no configuration, so it
	// has no configure phase after a boot and is excluded from a configure.
	bootSets := []BootSetPlan{
		{Name: "a", Nodes: []string{"a1", "a2"}, ShutdownOrdinal: 1, BootOrdinal: 3, Configuration: "site"},
		{Name: "b", Nodes: []string{"b1"}, ShutdownOrdinal: 2, BootOrdinal: 1, Configuration: "site"},
		{Name: "c", Nodes: []string{"c1", "c2"}, ShutdownOrdinal: 1, BootOrdinal: 1, Configuration: "site"},
		{Name: "d", Nodes: []string{"d1"}, ShutdownOrdinal: 0, BootOrdinal: 2},
		{Name: "empty", ShutdownOrdinal: -5, BootOrdinal: -5, Configuration: "site"},
	}
	// The order each phase must run its nodes in, group by group, read off
	// the ordinals above by hand (not computed by the code under test).
	var (
		byShutdownOrdinal = [][]string{{"d1"}, {"a1", "a2", "c1", "c2"}, {"b1"}} // 0, 1, 2
		byBootOrdinal     = [][]string{{"b1", "c1", "c2"}, {"d1"}, {"a1", "a2"}} // 1, 2, 3
		configuredOnly    = [][]string{{"b1", "c1", "c2"}, {"a1", "a2"}}         // 1, 3: d has no configure phase
	)
	wantOrder := map[Operation]map[Phase][][]string{
		Shutdown: {PhaseShutdown: byShutdownOrdinal},
		Boot:     {PhaseBoot: byBootOrdinal, PhaseConfigure: configuredOnly},
		Reboot:   {PhaseShutdown: byShutdownOrdinal, PhaseBoot: byBootOrdinal, PhaseConfigure: configuredOnly},
		// The configure operation takes d in its turn, to exclude it.
		Configure: {PhaseConfigure: byBootOrdinal},
	}
	delays := map[string]time.Duration{"a1": 90, "a2": 10, "b1": 1, "c1": 60, "c2": 200, "d1": 120}
	for _, op := range []Operation{Shutdown, Boot, Reboot, Configure} {
		for _, pace := range []Pace{Independent, Lockstep} {
			t.Run(string(op)+"/"+string(pace), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					initial := power.On
					if op == Boot {
						initial = power.Off
					}
					scripts := map[string]nodeScript{}
					for name, d := range delays {
						scripts[name] = nodeScript{initial: initial, gracefulDelay: d * time.Second, onDelay: d * time.Second}
					}
					s := newSession(scripts)
					s.engine.Configure = &fakeConfigurer{log: s.log, took: time.Minute, results: allSucceed}
					result, err := s.engine.Run(t.Context(), plan(op, pace, bootSets...))
					require.NoError(t, err)
					want := map[Category]int{Succeeded: len(delays)}
					if op == Configure {
						want = map[Category]int{Succeeded: len(delays) - 1, Excluded: 1}
					}
					assert.Equal(t, want, result.Counts())

					for phase, groups := range wantOrder[op] {
						for g, group := range groups {
							lowerDone := -1
							if g > 0 {
								for _, n := range groups[g-1] {
									lowerDone = max(lowerDone, s.lastSeq(n, isFinal(phase)))
								}
							}
							for _, n := range group {
								first := s.firstSeq(n, inPhase(phase))
								assert.Greater(t, first, lowerDone, "%s %s started before ordinal group %d finished", n, phase, g-1)
							}
						}
					}
				})
			})
		}
	}
}

func TestRunFailingNodeDoesNotStopOthers(t *testing.T) {
	for _, pace := range []Pace{Independent, Lockstep} {
		t.Run(string(pace), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSession(map[string]nodeScript{
					"stuck": {initial: power.On, gracefulDelay: never, forceDelay: never},
					"ok1":   {initial: power.On, gracefulDelay: 10 * time.Second, onDelay: time.Second},
					"ok2":   {initial: power.On, gracefulDelay: never, forceDelay: time.Second, onDelay: time.Second},
				})
				result, err := s.engine.Run(t.Context(), plan(Reboot, pace,
					BootSetPlan{Name: "x", Nodes: []string{"stuck", "ok1"}},
					BootSetPlan{Name: "y", Nodes: []string{"ok2"}, BootOrdinal: 1}))
				require.NoError(t, err)

				assert.Equal(t, []NodeResult{{Node: "stuck", BootSet: "x", Phase: PhaseShutdown, Category: Failed,
					Reason: result.Nodes["stuck"].Reason}}, result.Failed())
				assert.Contains(t, result.Nodes["stuck"].Reason, "did not power off")
				assert.Equal(t, map[Category]int{Succeeded: 2, Failed: 1}, result.Counts())
				assert.Equal(t, -1, s.firstSeq("stuck", inPhase(PhaseBoot)), "a failed node leaves the session")
				assert.Empty(t, result.Unfinished())
			})
		})
	}
}

func TestRunBoundsConcurrency(t *testing.T) {
	for _, maxConcurrency := range []int{1, 3, 7} {
		t.Run(fmt.Sprintf("max %d", maxConcurrency), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nodes, scripts := manyNodes(20, func(i int) nodeScript {
					return nodeScript{initial: power.Off, onDelay: time.Duration(1+i%5) * time.Second, bootDelay: 30 * time.Second}
				})
				s := newSession(scripts)
				calls := &inFlight{latency: 200 * time.Millisecond}
				s.bmc.calls = calls
				s.engine.BMC = progressBMC{s.bmc}
				s.engine.Boot = &fakePreparer{log: s.log, calls: calls}
				s.engine.Options.MaxConcurrency = maxConcurrency
				result, err := s.engine.Run(t.Context(), plan(Boot, Independent, oneBootSet(nodes...)))
				require.NoError(t, err)
				assert.Equal(t, map[Category]int{Succeeded: 20}, result.Counts())
				assert.Equal(t, maxConcurrency, calls.maxSeen(), "BMC calls (power, boot progress, boot preparation) in flight at once")
			})
		})
	}
}

// TestRunNodesWaitTogether checks that a node holds a BMC slot only for a
// call: with 2 slots, 20 nodes that each wait long (between polls, or for
// a power-on stagger slot) all wait at the same time, not in waves of 2.
func TestRunNodesWaitTogether(t *testing.T) {
	tests := []struct {
		name    string
		op      Operation
		script  nodeScript
		options Options
		checkAt time.Duration // when every node is waiting
	}{
		{
			name:    "polling for power off",
			op:      Shutdown,
			script:  nodeScript{initial: power.On, gracefulDelay: 100 * time.Second},
			checkAt: 50 * time.Second,
		},
		{
			name:    "polling for boot progress",
			op:      Boot,
			script:  nodeScript{initial: power.Off, onDelay: time.Second, bootDelay: 600 * time.Second},
			checkAt: 300*time.Second + time.Millisecond,
		},
		{
			name:    "waiting for a power-on stagger slot",
			op:      Boot,
			script:  nodeScript{initial: power.Off, onDelay: 100 * time.Second},
			options: Options{BatchSize: 1, BatchInterval: 10 * time.Second},
			checkAt: 5 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nodes, scripts := manyNodes(20, func(int) nodeScript { return tt.script })
				s := newSession(scripts)
				calls := &inFlight{latency: 10 * time.Millisecond}
				s.bmc.calls = calls
				s.engine.BMC = progressBMC{s.bmc}
				s.engine.Options = tt.options
				s.engine.Options.MaxConcurrency = 2
				done := make(chan error)
				go func() {
					_, err := s.engine.Run(t.Context(), plan(tt.op, Independent, oneBootSet(nodes...)))
					done <- err
				}()

				time.Sleep(tt.checkAt)
				synctest.Wait()
				phase := Phase(tt.op)
				waiting := 0
				for _, n := range nodes {
					if s.firstSeq(n, isTransition(phase, InProgress)) >= 0 && s.firstSeq(n, isFinal(phase)) < 0 {
						waiting++
					}
				}
				assert.Equal(t, 20, waiting, "nodes in progress at once, %s in", tt.checkAt)

				require.NoError(t, <-done)
				for _, n := range nodes {
					assert.Equal(t, []string{string(phase) + "/succeeded"}, s.transitions(n)[len(s.transitions(n))-1:], n)
				}
				assert.Equal(t, 2, calls.maxSeen(), "BMC calls in flight at once")
			})
		})
	}
}

func TestRunCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(40, func(i int) nodeScript {
			if i%4 == 0 {
				return nodeScript{initial: power.On, hang: true}
			}
			return nodeScript{initial: power.On, gracefulDelay: never, forceDelay: never}
		})
		s := newSession(scripts)
		s.engine.Options.MaxConcurrency = 10
		ctx, cancel := context.WithCancel(t.Context())
		type ran struct {
			result Result
			err    error
		}
		done := make(chan ran)
		go func() {
			result, err := s.engine.Run(ctx, plan(Reboot, Independent, oneBootSet(nodes...)))
			done <- ran{result, err}
		}()

		time.Sleep(30 * time.Second)
		recorded := len(s.log.snapshot())
		cancelled := time.Now()
		cancel()
		got := <-done

		assert.Equal(t, cancelled, time.Now(), "Run waited after cancellation")
		require.ErrorIs(t, got.err, context.Canceled)
		assert.Len(t, got.result.Unfinished(), 40)
		// Every node started; by now the 10 hanging nodes hold every BMC
		// slot and the 30 others wait for one: both waits end with ctx.
		assert.Equal(t, map[Category]int{InProgress: 40}, got.result.Counts())
		time.Sleep(time.Hour)
		assert.Len(t, s.log.snapshot(), recorded, "nothing happens after cancellation")
		// synctest.Test fails if any goroutine of the bubble is left blocked.
	})
}

func TestRunAlreadyCancelledStartsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(50, func(int) nodeScript { return nodeScript{initial: power.On} })
		s := newSession(scripts)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		result, err := s.engine.Run(ctx, plan(Shutdown, Independent, oneBootSet(nodes...)))
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, map[Category]int{NotStarted: 50}, result.Counts())
		assert.Empty(t, s.log.snapshot())
	})
}

func TestRunRecorderErrorAborts(t *testing.T) {
	tests := []struct {
		name   string
		failOn func(Transition) bool
	}{
		{
			name:   "intent before power on",
			failOn: func(tr Transition) bool { return tr.Node == "n02" && tr.Action == power.PowerOn },
		},
		{
			name:   "phase start",
			failOn: func(tr Transition) bool { return tr.Node == "n02" && tr.Phase == PhaseBoot && tr.Action == "" },
		},
		{
			name:   "final category",
			failOn: func(tr Transition) bool { return tr.Node == "n02" && tr.Category == Succeeded },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nodes, scripts := manyNodes(5, func(i int) nodeScript {
					return nodeScript{initial: power.On, gracefulDelay: time.Duration(i) * time.Second, onDelay: 100 * time.Second}
				})
				s := newSession(scripts)
				s.recorder.failOn = tt.failOn
				result, err := s.engine.Run(t.Context(), plan(Reboot, Independent, oneBootSet(nodes...)))
				require.ErrorIs(t, err, errDiskFull)
				assert.Contains(t, err.Error(), "node n02")

				if tt.name == "intent before power on" {
					assert.NotContains(t, s.resets("n02"), power.PowerOn, "the Reset whose intent failed to record was sent")
				}
				assert.Equal(t, InProgress, result.Nodes["n02"].Category)
				assert.NotEmpty(t, result.Unfinished())
				recorded := len(s.log.snapshot())
				time.Sleep(time.Hour)
				assert.Len(t, s.log.snapshot(), recorded, "nothing happens after the abort")
			})
		})
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	valid := plan(Boot, Independent, oneBootSet("n1"))
	tests := []struct {
		name    string
		mutate  func(*Engine, *Plan)
		wantErr string
	}{
		{"unknown operation", func(_ *Engine, p *Plan) { p.Operation = "reset" }, `unknown operation "reset"`},
		{"unknown pace", func(_ *Engine, p *Plan) { p.Pace = "fast" }, `unknown pace "fast"`},
		{"node twice", func(_ *Engine, p *Plan) {
			p.BootSets = append(p.BootSets, BootSetPlan{Name: "gpu", Nodes: []string{"n1"}})
		}, `node "n1" is in boot set "compute" and again in boot set "gpu"`},
		{"empty node name", func(_ *Engine, p *Plan) { p.BootSets[0].Nodes = []string{""} }, `boot set "compute" has an empty node name`},
		{"boot set twice", func(_ *Engine, p *Plan) {
			p.BootSets = append(p.BootSets, BootSetPlan{Name: "compute"})
		}, `boot set name "compute" is empty or used twice`},
		{"negative timeout", func(e *Engine, _ *Plan) { e.Options.BootWait = -time.Second }, "boot wait is -1s"},
		{"negative retries", func(e *Engine, _ *Plan) { e.Options.RetryPolicy = -1 }, "retry policy is -1"},
		{"negative batch size", func(e *Engine, _ *Plan) { e.Options.BatchSize = -1 }, "batch size is -1; it must be at least 1 (or 0 for no power-on staggering)"},
		{"negative configure wait", func(e *Engine, _ *Plan) { e.Options.ConfigureWait = -time.Minute }, "configure wait is -1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(map[string]nodeScript{"n1": {initial: power.Off}})
			p := valid
			p.BootSets = slices.Clone(valid.BootSets)
			tt.mutate(s.engine, &p)
			_, err := s.engine.Run(t.Context(), p)
			require.ErrorIs(t, err, ErrInvalidPlan)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Empty(t, s.log.snapshot(), "nothing done for a bad plan")
		})
	}
	t.Run("missing BMC", func(t *testing.T) {
		_, err := (&Engine{Recorder: &fakeRecorder{log: &eventLog{}}}).Run(t.Context(), valid)
		require.Error(t, err)
	})
}

func TestRunEmptyPlan(t *testing.T) {
	s := newSession(nil)
	result, err := s.engine.Run(t.Context(), plan(Reboot, Lockstep, BootSetPlan{Name: "none"}))
	require.NoError(t, err)
	assert.Empty(t, result.Nodes)
}

func TestPollDelay(t *testing.T) {
	tests := []struct {
		name string
		base time.Duration
		cap  time.Duration
		want []time.Duration // for attempts 0, 1, …
	}{
		{"defaults", time.Second, 5 * time.Second, []time.Duration{1, 1, 1, 1, 2, 2, 4, 4, 5, 5, 5}},
		{"high cap", time.Second, time.Minute, []time.Duration{1, 1, 1, 1, 2, 2, 4, 4, 8, 8, 16}},
		{"base above cap", 10 * time.Second, 5 * time.Second, []time.Duration{5, 5, 5, 5, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			options := Options{PollBase: tt.base, PollInterval: tt.cap}
			for attempt, want := range tt.want {
				assert.Equal(t, want*time.Second, options.pollDelay(attempt), "attempt %d", attempt)
			}
			assert.Equal(t, tt.cap, options.pollDelay(100000), "capped however long the wait")
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	got, err := Options{BootWait: time.Minute}.withDefaults()
	require.NoError(t, err)
	want := DefaultOptions()
	want.BootWait = time.Minute
	assert.Equal(t, want, got)
}

func TestProgressSeesEveryRecordedTransitionBeforeRunReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(20, func(i int) nodeScript {
			return nodeScript{initial: power.On, gracefulDelay: time.Duration(i) * time.Second, onDelay: time.Second}
		})
		s := newSession(scripts)
		seen := map[string][]Transition{}
		s.engine.Progress = func(tr Transition) { seen[tr.Node] = append(seen[tr.Node], tr) }
		result, err := s.engine.Run(t.Context(), plan(Reboot, Independent, oneBootSet(nodes...)))
		require.NoError(t, err)
		assert.Equal(t, map[Category]int{Succeeded: 20}, result.Counts())
		for _, node := range nodes {
			var recorded []Transition
			for _, e := range s.log.snapshot() {
				if isTransitionEvent(e) && e.node == node {
					recorded = append(recorded, e.transition)
				}
			}
			require.NotEmpty(t, recorded)
			assert.Equal(t, recorded, seen[node], node)
		}
	})
}
