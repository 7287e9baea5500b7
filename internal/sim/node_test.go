package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	return newStandaloneNode(profile, faults, DefaultTiming())
}

// TestBootProgressTime: LastStateTime is when the node entered its
// BootProgress state; it moves with each change of state, and not while
// the state stays (the OS runs on while a graceful shutdown begins).
func TestBootProgressTime(t *testing.T) {
	timing := DefaultTiming()
	n := newTestNode("dmtf", 0)
	at := func(when time.Time) (string, string, time.Time) {
		n.mu.Lock()
		defer n.mu.Unlock()
		cur := n.current(when)
		state, since := n.bootProgress(cur)
		return cur.power, state, since
	}
	now := fleetStart.Add(time.Minute)
	power, state, since := at(now)
	assert.Equal(t, []any{powerOn, bootOSRunning, fleetStart}, []any{power, state, since}, "untouched since the fleet started")

	require.Equal(t, resetAccepted, n.applyReset(now, "GracefulShutdown"))
	power, state, since = at(now.Add(time.Nanosecond))
	assert.Equal(t, []any{powerPoweringOff, bootOSRunning, fleetStart}, []any{power, state, since}, "the OS still runs")
	off := now.Add(timing.GracefulShutdown)
	power, state, since = at(off)
	assert.Equal(t, []any{powerOff, bootNone, off}, []any{power, state, since})

	on := off.Add(time.Minute)
	require.Equal(t, resetAccepted, n.applyReset(on, "On"))
	power, state, since = at(on)
	assert.Equal(t, []any{powerPoweringOn, bootInitStarted, on}, []any{power, state, since})
	hardware := on.Add(timing.PowerOn)
	power, state, since = at(hardware)
	assert.Equal(t, []any{powerOn, bootHardwareDone, hardware}, []any{power, state, since})
	running := hardware.Add(timing.BootToOS)
	power, state, since = at(running.Add(time.Hour))
	assert.Equal(t, []any{powerOn, bootOSRunning, running}, []any{power, state, since})
}

// TestCrayExOffIsGraceful: Cray EX's "Off" shuts the OS down over the
// graceful time (and an OS that ignores graceful requests ignores it);
// ForceOff cuts power at once.
func TestCrayExOffIsGraceful(t *testing.T) {
	timing := DefaultTiming()
	now := time.Now()
	n := newTestNode("cray-ex", 0)
	require.Equal(t, resetAccepted, n.applyReset(now, "Off"))
	assert.Equal(t, powerPoweringOff, n.current(now.Add(timing.PowerOff)).power, "not yet off after the forced-off time")
	assert.Equal(t, powerOff, n.current(now.Add(timing.GracefulShutdown)).power)

	n = newTestNode("cray-ex", 0)
	require.Equal(t, resetAccepted, n.applyReset(now, "ForceOff"))
	assert.Equal(t, powerOff, n.current(now.Add(timing.PowerOff)).power)

	n = newTestNode("cray-ex", faultBit(FaultIgnoreGraceful))
	require.Equal(t, resetAccepted, n.applyReset(now, "Off"))
	assert.Equal(t, powerOn, n.current(now.Add(time.Hour)).power)
}

func TestBusyIgnoresReset(t *testing.T) {
	timing := DefaultTiming()
	now := time.Now()
	n := newTestNode("dmtf", faultBit(FaultBusyIgnoresReset))
	require.Equal(t, resetAccepted, n.applyReset(now, "GracefulShutdown"))
	for _, resetType := range []string{"ForceOff", "On", "ForceRestart"} {
		assert.Equal(t, resetIgnored, n.applyReset(now.Add(time.Second), resetType), resetType)
	}
	assert.Equal(t, resetUnsupported, n.applyReset(now.Add(time.Second), "PowerCycle"), "an unsupported type is still refused")
	assert.Equal(t, powerPoweringOff, n.current(now.Add(timing.PowerOff+time.Second)).power, "the ForceOff did nothing")
	off := now.Add(timing.GracefulShutdown)
	assert.Equal(t, powerOff, n.current(off).power)
	assert.Equal(t, resetAccepted, n.applyReset(off, "On"), "settled, the node obeys")
	assert.Equal(t, powerPoweringOn, n.current(off).power)
}
