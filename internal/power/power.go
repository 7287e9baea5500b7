// Package power is the small vocabulary shared by the engine (which decides
// what a node needs) and the BMC drivers (which make it happen): observed
// power states and boot progress, and the abstract actions the engine asks
// for. Drivers map an Action to whatever reset type a given BMC actually
// offers.
package power

import "time"

// State is a node's power state as its BMC reports it.
type State string

const (
	On          State = "On"
	Off         State = "Off"
	PoweringOn  State = "PoweringOn"
	PoweringOff State = "PoweringOff"
	// Unknown covers a missing, null or transient "Unknown" PowerState: a BMC
	// that cannot say yet. It means "not yet", never "failed".
	Unknown State = "Unknown"
)

// Settled reports whether s is a final state worth acting on.
func (s State) Settled() bool { return s == On || s == Off }

// Action is what the engine wants done to a node's power.
type Action string

const (
	// GracefulOff asks the OS to shut down (GracefulShutdown, or HPE Cray
	// EX's "Off", which is its graceful one).
	GracefulOff Action = "graceful-off"
	// ForceOff cuts power immediately (ForceOff).
	ForceOff Action = "force-off"
	// PowerOn turns the node on (On, or ForceOn where On is not offered).
	PowerOn Action = "on"
)

// InEffect reports whether s shows that action was carried out: the node
// is at action's goal or on its way there. It is how a reset whose answer
// was lost, or whose sending was never confirmed, is told from one still
// needed, so that no reset is sent twice blindly.
func (a Action) InEffect(s State) bool {
	switch a {
	case GracefulOff, ForceOff:
		return s == Off || s == PoweringOff
	case PowerOn:
		return s == On || s == PoweringOn
	}
	return false
}

// BootProgress is a system's Redfish BootProgress as its BMC reports it.
type BootProgress struct {
	// LastState is BootProgress.LastState ("OSRunning", "None", …); ""
	// when the BMC does not report boot progress at all.
	LastState string
	// LastStateTime is BootProgress.LastStateTime; zero when the BMC does
	// not report it, or reports something that is not an RFC 3339 time.
	LastStateTime time.Time
}

// Since reports whether p was reported after earlier, by the BMC's own
// clock where it can tell: a later LastStateTime when both carry one (and
// they differ), otherwise a different LastState. A BootProgress that is
// not Since the one read before a power-on is stale: it says nothing about
// that power-on.
func (p BootProgress) Since(earlier BootProgress) bool {
	if !p.LastStateTime.IsZero() && !earlier.LastStateTime.IsZero() && !p.LastStateTime.Equal(earlier.LastStateTime) {
		return p.LastStateTime.After(earlier.LastStateTime)
	}
	return p.LastState != earlier.LastState
}
