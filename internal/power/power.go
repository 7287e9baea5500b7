// Package power is the small vocabulary shared by the engine (which decides
// what a node needs) and the BMC drivers (which make it happen): observed
// power states and the abstract actions the engine asks for. Drivers map an
// Action to whatever reset type a given BMC actually offers.
package power

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
