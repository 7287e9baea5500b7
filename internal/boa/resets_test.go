package boa

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

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
