package engine

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

// intents lists node's transitions that explain a step: an action's intent
// or a wait, as "action: reason" (action "-" for a wait).
func (s *session) intents(node string) []string {
	var out []string
	for _, e := range s.log.snapshot() {
		t := e.transition
		if !isTransitionEvent(e) || e.node != node || t.Category != InProgress || t.Sent || t.Reason == "" {
			continue
		}
		action := string(t.Action)
		if action == "" {
			action = "-"
		}
		out = append(out, action+": "+t.Reason)
	}
	return out
}

// TestRunSaysWhyItEscalates: every step the engine takes instead of the
// one it would normally take is recorded with its reason, before it is
// taken.
func TestRunSaysWhyItEscalates(t *testing.T) {
	tests := []struct {
		name   string
		script nodeScript
		want   []string
	}{
		{
			name:   "graceful shutdown accepted and ignored",
			script: nodeScript{initial: power.On, gracefulDelay: never, forceDelay: time.Second},
			want:   []string{"force-off: graceful shutdown (GracefulShutdown) accepted but power stayed On for 300s: forcing off"},
		},
		{
			name:   "no graceful shutdown offered",
			script: nodeScript{initial: power.On, noReset: []power.Action{power.GracefulOff}, forceDelay: time.Second},
			want:   []string{"force-off: graceful-off: no suitable reset type offered: forcing off"},
		},
		{
			name:   "graceful shutdown still under way at both timeouts",
			script: nodeScript{initial: power.On, gracefulDelay: 600 * time.Second, forceDelay: time.Second},
			want: []string{
				"-: PoweringOff: waiting up to 180s for it to settle before force-off",
				"force-off: graceful-off: power state Off not reached within 5m0s (last power state PoweringOff): forcing off",
			},
		},
		{
			name:   "node busy powering on at the start",
			script: nodeScript{initial: power.Off, becoming: power.On, becomingDelay: time.Minute, busyIgnoresReset: true, gracefulDelay: time.Second},
			want:   []string{"-: PoweringOn: waiting up to 300s for it to settle before graceful-off"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSession(map[string]nodeScript{"n1": tt.script})
				result, err := s.engine.Run(t.Context(), plan(Shutdown, Independent, oneBootSet("n1")))
				require.NoError(t, err)
				assert.Equal(t, Succeeded, result.Nodes["n1"].Category)
				assert.Equal(t, tt.want, s.intents("n1"))
			})
		})
	}
}

// TestRunRecordsTheResetTypeSent: each confirmation carries the reset type
// the BMC accepted, and only a confirmation does.
func TestRunRecordsTheResetTypeSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSession(map[string]nodeScript{"n1": {initial: power.On, gracefulDelay: never, forceDelay: time.Second, onDelay: time.Second}})
		_, err := s.engine.Run(t.Context(), plan(Reboot, Independent, oneBootSet("n1")))
		require.NoError(t, err)
		sent := map[power.Action]string{}
		for _, e := range s.log.snapshot() {
			if !isTransitionEvent(e) || e.transition.ResetType == "" {
				continue
			}
			require.True(t, e.transition.Sent, "%+v", e.transition)
			sent[e.transition.Action] = e.transition.ResetType
		}
		assert.Equal(t, map[power.Action]string{
			power.GracefulOff: "GracefulShutdown", power.ForceOff: "ForceOff", power.PowerOn: "On",
		}, sent)
	})
}
