package engine

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

func TestRunBootPreparation(t *testing.T) {
	const (
		prepared = "no one-time boot override (HTTP 405): relied on the boot order"
		finished = "boot override stored as Continuous (persistent); restored None/Disabled after boot"
	)
	tests := []struct {
		name         string
		op           Operation
		script       nodeScript
		fail         bool
		wantPrepares int
		wantResets   []power.Action
		wantCategory Category
		wantReason   string
	}{
		{
			name:         "prepared once before On, however many On attempts",
			op:           Boot,
			script:       nodeScript{initial: power.Off, onErrors: 2, onDelay: 5 * time.Second},
			wantPrepares: 1,
			wantResets:   []power.Action{power.PowerOn, power.PowerOn, power.PowerOn},
			wantCategory: Succeeded,
		},
		{
			name:         "prepared before the shutdown of a reboot",
			op:           Reboot,
			script:       nodeScript{initial: power.On, gracefulDelay: 30 * time.Second, onDelay: 5 * time.Second},
			wantPrepares: 1,
			wantResets:   []power.Action{power.GracefulOff, power.PowerOn},
			wantCategory: Succeeded,
		},
		{
			name:         "a node that does not power on is finished all the same",
			op:           Boot,
			script:       nodeScript{initial: power.Off, onDelay: never},
			wantPrepares: 1,
			wantResets:   []power.Action{power.PowerOn, power.PowerOn, power.PowerOn},
			wantCategory: Failed,
			wantReason:   "did not power on after 3 attempts: last: power-on (On) accepted but power stayed Off for 120s",
		},
		{
			// A one-time override left behind would surprise the node's
			// next reboot by someone else.
			name:         "a reboot whose shutdown fails undoes the boot it prepared",
			op:           Reboot,
			script:       nodeScript{initial: power.On, gracefulDelay: never, forceDelay: never},
			wantPrepares: 1,
			wantResets:   []power.Action{power.GracefulOff, power.ForceOff},
			wantCategory: Failed,
			wantReason:   "did not power off: graceful shutdown (GracefulShutdown) accepted but power stayed On for 300s; then forced power-off (ForceOff) accepted but power stayed On for 180s",
		},
		{
			name:         "a failed preparation fails the node with no power action",
			op:           Boot,
			script:       nodeScript{initial: power.Off, onDelay: 5 * time.Second},
			fail:         true,
			wantPrepares: 1,
			wantCategory: Failed,
			wantReason:   "prepare boot: " + errNoImage.Error() + "; no power action sent",
		},
		{
			name:         "a reboot whose boot cannot be prepared leaves the node on",
			op:           Reboot,
			script:       nodeScript{initial: power.On, gracefulDelay: 30 * time.Second, onDelay: 5 * time.Second},
			fail:         true,
			wantPrepares: 1,
			wantCategory: Failed,
			wantReason:   "prepare boot: " + errNoImage.Error() + "; no power action sent",
		},
		{
			name:         "a node excluded as already on is not prepared",
			op:           Boot,
			script:       nodeScript{initial: power.On},
			wantCategory: Excluded,
			wantReason:   "already on (use reboot)",
		},
		{
			// A second On while powering on is refused by many BMCs, or
			// restarts the node.
			name:         "a node powering on is excluded, not sent another On",
			op:           Boot,
			script:       nodeScript{initial: power.Off, becoming: power.On, becomingDelay: time.Minute},
			wantCategory: Excluded,
			wantReason:   "already on (use reboot)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSession(map[string]nodeScript{"n1": tt.script})
				s.engine.Boot = &fakePreparer{log: s.log, warnings: []string{prepared}, finished: []string{finished},
					fail: map[string]bool{"n1": tt.fail}}
				result, err := s.engine.Run(t.Context(), plan(tt.op, Independent, oneBootSet("n1")))
				require.NoError(t, err)

				assert.Equal(t, tt.wantCategory, result.Nodes["n1"].Category)
				assert.Equal(t, tt.wantReason, result.Nodes["n1"].Reason)
				assert.Equal(t, tt.wantPrepares, s.prepares("n1"))
				assert.Equal(t, tt.wantResets, s.resets("n1"))
				if tt.wantPrepares == 0 {
					return
				}
				preparedAt := s.firstSeq("n1", func(e event) bool { return e.prepare })
				if reset := s.firstSeq("n1", func(e event) bool { return e.reset }); reset >= 0 {
					assert.Less(t, preparedAt, reset, "prepared before the first power action")
				}
				var warned []event
				for _, e := range s.log.snapshot() {
					if isTransitionEvent(e) && e.node == "n1" && len(e.transition.Warnings) > 0 {
						warned = append(warned, e)
					}
				}
				finishedAt := s.firstSeq("n1", func(e event) bool { return e.finish })
				if tt.fail {
					assert.Empty(t, warned)
					assert.Negative(t, finishedAt, "nothing prepared: nothing to finish")
					return
				}
				// Each warning is recorded once: the preparation's with the
				// transition after it, the finish's with the outcome.
				require.Len(t, warned, 2)
				assert.Equal(t, []string{prepared}, warned[0].transition.Warnings)
				assert.Equal(t, preparedAt+1, warned[0].seq)
				assert.Equal(t, []string{finished}, warned[1].transition.Warnings)
				assert.Equal(t, tt.wantCategory, warned[1].transition.Category)
				assert.Greater(t, finishedAt, s.lastSeq("n1", isReset(power.PowerOn)), "finished after the last On")
				assert.Equal(t, warned[1].seq-1, finishedAt, "finished just before the outcome")
			})
		})
	}
}

func TestRunCancelledWhilePreparing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(4, func(int) nodeScript { return nodeScript{initial: power.Off, onDelay: time.Second} })
		s := newSession(scripts)
		s.engine.Boot = &fakePreparer{log: s.log, hang: map[string]bool{"n00": true, "n01": true}}
		result := s.runCancelledAfter(t, time.Minute, plan(Boot, Independent, oneBootSet(nodes...)))

		assert.Equal(t, InProgress, result.Nodes["n00"].Category)
		assert.Equal(t, Succeeded, result.Nodes["n02"].Category)
		assert.Empty(t, s.resets("n00"))
	})
}

// TestBootProgressNotTrustedBlindly: a BootProgress that has not moved
// since before the power-on is not taken as booted, nor waited for past
// the grace period.
func TestBootProgressNotTrustedBlindly(t *testing.T) {
	const (
		onDelay = 10 * time.Second
		grace   = 3 * time.Minute
	)
	tests := []struct {
		name    string
		quirk   progressQuirk
		boot    time.Duration // bootDelay
		options Options
		// The boot phase ends at least after, and less than a poll
		// interval after it.
		after        time.Duration
		wantCategory Category
		wantReason   string
		wantWarnings []string
	}{
		{name: "boots: OSRunning since the power-on", quirk: progressTimed, boot: 40 * time.Second,
			after: onDelay + 40*time.Second, wantCategory: Succeeded},
		{name: "boots without LastStateTime: the states tell", quirk: progressUntimed, boot: 40 * time.Second,
			after: onDelay + 40*time.Second, wantCategory: Succeeded},
		{name: "moving but slower than the grace: waited for", boot: 10 * time.Minute,
			after: onDelay + 10*time.Minute, wantCategory: Succeeded},
		{name: "None throughout: warned once the grace is over", quirk: progressStuckNone,
			after: onDelay + grace, wantCategory: Succeeded, wantWarnings: []string{NoBootProgress}},
		{name: "None throughout, progress required: failed once the grace is over", quirk: progressStuckNone,
			options: Options{RequireBootProgress: true},
			after:   onDelay + grace, wantCategory: Failed, wantReason: NoBootProgress},
		{name: "stale OSRunning: not booted at once, warned", quirk: progressStale,
			after: onDelay + grace, wantCategory: Succeeded, wantWarnings: []string{NoBootProgress}},
		{name: "stale OSRunning without LastStateTime: the same", quirk: progressStaleUntimed,
			after: onDelay + grace, wantCategory: Succeeded, wantWarnings: []string{NoBootProgress}},
		{name: "grace longer than the boot wait: warned at the boot wait", quirk: progressStuckNone,
			options: Options{BootWait: time.Minute, BootProgressGrace: 5 * time.Minute},
			after:   onDelay + time.Minute, wantCategory: Succeeded, wantWarnings: []string{NoBootProgress}},
		{name: "a grace of its own", quirk: progressStale, options: Options{BootProgressGrace: 30 * time.Second},
			after: onDelay + 30*time.Second, wantCategory: Succeeded, wantWarnings: []string{NoBootProgress}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSession(map[string]nodeScript{"n1": {initial: power.Off, onDelay: onDelay, bootDelay: tt.boot, progress: tt.quirk}})
				s.engine.BMC = progressBMC{s.bmc}
				s.engine.Options = tt.options
				result, err := s.engine.Run(t.Context(), plan(Boot, Independent, oneBootSet("n1")))
				require.NoError(t, err)

				got := result.Nodes["n1"]
				assert.Equal(t, tt.wantCategory, got.Category)
				assert.Equal(t, tt.wantReason, got.Reason)
				var warnings []string
				for _, e := range s.log.snapshot() {
					if isTransitionEvent(e) && e.node == "n1" {
						warnings = append(warnings, e.transition.Warnings...)
					}
				}
				assert.Equal(t, tt.wantWarnings, warnings)
				ended := s.endedAfterOn("n1")
				assert.GreaterOrEqual(t, ended, tt.after)
				assert.Less(t, ended, tt.after+DefaultOptions().PollInterval)
			})
		})
	}
}

// endedAfterOn is how long after its On request node's boot phase ended.
func (s *session) endedAfterOn(node string) time.Duration {
	on := s.log.snapshot()[s.firstSeq(node, isReset(power.PowerOn))].at
	return s.log.snapshot()[s.lastSeq(node, isFinal(PhaseBoot))].at.Sub(on)
}

// A session stopped while nodes wait to boot leaves their BMCs as
// prepared: the nodes may still be booting from it.
func TestCancelledBootIsNotFinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSession(map[string]nodeScript{"n1": {initial: power.Off, onDelay: time.Second, bootDelay: never}})
		s.engine.BMC = progressBMC{s.bmc}
		s.engine.Boot = &fakePreparer{log: s.log, finished: []string{"restored"}}
		result := s.runCancelledAfter(t, 5*time.Minute, plan(Boot, Independent, oneBootSet("n1")))
		assert.Equal(t, InProgress, result.Nodes["n1"].Category)
		assert.Negative(t, s.firstSeq("n1", func(e event) bool { return e.finish }))
	})
}
