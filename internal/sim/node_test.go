package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestResetTimeline drives the state machine with explicit times: what the
// node reports just after the reset and once every transition is over.
func TestResetTimeline(t *testing.T) {
	const (
		justAfter = time.Nanosecond
		muchLater = time.Hour
	)
	tests := []struct {
		profile, from, resetType string
		faults                   faultSet
		want                     resetOutcome
		during, final            string
	}{
		{"dmtf", powerOn, "GracefulShutdown", 0, resetAccepted, powerPoweringOff, powerOff},
		{"dmtf", powerOn, "ForceOff", 0, resetAccepted, powerPoweringOff, powerOff},
		{"dmtf", powerOn, "ForceRestart", 0, resetAccepted, powerPoweringOff, powerOn},
		{"dmtf", powerOn, "GracefulRestart", 0, resetAccepted, powerPoweringOff, powerOn},
		{"dmtf", powerOn, "PushPowerButton", 0, resetAccepted, powerPoweringOff, powerOff},
		{"dmtf", powerOff, "PushPowerButton", 0, resetAccepted, powerPoweringOn, powerOn},
		{"dmtf", powerOn, "Nmi", 0, resetAccepted, powerOn, powerOn},
		{"dmtf", powerOn, "On", 0, resetAccepted, powerOn, powerOn},
		{"dmtf", powerOff, "GracefulShutdown", 0, resetAccepted, powerOff, powerOff},
		{"dmtf", powerOff, "ForceOn", 0, resetAccepted, powerPoweringOn, powerOn},
		{"dmtf", powerOn, "PowerCycle", 0, resetUnsupported, powerOn, powerOn},
		{"openbmc", powerOn, "PowerCycle", 0, resetAccepted, powerPoweringOff, powerOn},
		{"openbmc", powerOff, "ForceRestart", 0, resetAccepted, powerPoweringOn, powerOn},
		{"cray-ex", powerOn, "Off", 0, resetAccepted, powerPoweringOff, powerOff},
		{"cray-ex", powerOn, "GracefulShutdown", 0, resetUnsupported, powerOn, powerOn},
		{"gigabyte", powerOn, "GracefulRestart", 0, resetUnsupported, powerOn, powerOn},
		{"dmtf", powerOn, "GracefulRestart", faultBit(FaultIgnoreGraceful), resetAccepted, powerOn, powerOn},
		{"dmtf", powerOff, "On", faultBit(FaultStuckPoweringOn), resetAccepted, powerPoweringOn, powerPoweringOn},
		{"dmtf", powerOn, "ForceRestart", faultBit(FaultStuckPoweringOn), resetAccepted, powerPoweringOff, powerPoweringOn},
	}
	for _, tt := range tests {
		t.Run(tt.profile+" "+tt.from+" "+tt.resetType, func(t *testing.T) {
			n := newTestNode(tt.profile, tt.faults)
			n.setPower(tt.from)
			now := time.Now()
			assert.Equal(t, tt.want, n.applyReset(now, tt.resetType))
			assert.Equal(t, tt.during, n.current(now.Add(justAfter)).power, "just after")
			final := n.current(now.Add(muchLater))
			assert.Equal(t, tt.final, final.power, "finally")
			if final.power == powerOn {
				assert.Equal(t, bootOSRunning, final.boot)
			}
		})
	}
}

func TestResetWhileTransitioning(t *testing.T) {
	n := newTestNode("dmtf", 0)
	now := time.Now()
	assert.Equal(t, resetAccepted, n.applyReset(now, "GracefulShutdown"))
	assert.Equal(t, resetBusy, n.applyReset(now, "On"))
	assert.Equal(t, resetBusy, n.applyReset(now, "GracefulRestart"))
	assert.Equal(t, resetAccepted, n.applyReset(now, "ForceOff"), "forced off always wins")
	assert.Equal(t, powerOff, n.current(now.Add(DefaultTiming().PowerOff)).power, "ForceOff timing replaced the graceful one")
}

// newTestNode is a node with realistic timing, driven by explicit times.
func newTestNode(profile string, faults faultSet) *node {
	return newNode(0, "x3000c0s1b0n0", profiles[profile], &fleetConfig{timing: DefaultTiming(), scale: 1, username: "root"}, faults, testPassword)
}
