package boa

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

func TestRunBootPreparation(t *testing.T) {
	const detail = "no one-time boot override: relies on the node's boot order"
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
				s.engine.Boot = &fakePreparer{log: s.log, detail: detail, fail: map[string]bool{"n1": tt.fail}}
				result, err := s.engine.Run(t.Context(), plan(tt.op, Independent, oneBootSet("n1")))
				require.NoError(t, err)

				assert.Equal(t, tt.wantCategory, result.Nodes["n1"].Category)
				assert.Equal(t, tt.wantReason, result.Nodes["n1"].Reason)
				assert.Equal(t, tt.wantPrepares, s.prepares("n1"))
				assert.Equal(t, tt.wantResets, s.resets("n1"))
				if tt.wantPrepares == 0 {
					return
				}
				prepared := s.firstSeq("n1", func(e event) bool { return e.prepare })
				if reset := s.firstSeq("n1", func(e event) bool { return e.reset }); reset >= 0 {
					assert.Less(t, prepared, reset, "prepared before the first power action")
				}
				for _, e := range s.log.snapshot() {
					if isTransitionEvent(e) && e.transition.Phase == PhaseBoot && e.seq > prepared && !tt.fail {
						assert.Equal(t, detail, e.transition.Detail, "boot transition after preparation: %+v", e.transition)
					}
				}
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
