// Package engine is bos's BOA: what Cray's Boot Orchestration Agent did,
// made per-node. It decides which power actions each node needs,
// in which order, and when a node has failed; it knows nothing of cobra,
// gofish or files. It talks to the outside through the small interfaces
// below, which its consumers (cmd wiring, tests) satisfy.
package engine

import (
	"context"
	"time"

	"github.com/bos-project/bos/internal/power"
)

// BMC is what the engine needs from a node's baseboard management
// controller. Nodes are addressed by inventory name; the implementation
// maps a name to its BMC endpoint and system, shares one connection and one
// Redfish session per BMC, and bounds concurrent requests.
type BMC interface {
	PowerState(ctx context.Context, node string) (power.State, error)
	// Reset carries out action and returns the vendor's reset type the BMC
	// accepted for it (e.g. "Off" for a graceful-off on HPE Cray EX).
	Reset(ctx context.Context, node string, action power.Action) (resetType string, err error)
}

// ResetChecker is an optional BMC capability: whether a node's BMC offers a
// reset type for a power action, known before anything is sent. The engine
// asks it before a node's first power change, so that a node its BMC
// cannot switch is failed untouched rather than left half done.
type ResetChecker interface {
	// WhyNoReset says why the node's BMC offers no reset type for action,
	// or "" when it offers one or does not say (the reset is then tried).
	WhyNoReset(ctx context.Context, node string, action power.Action) (string, error)
}

// Watcher is an optional BMC capability: a BMC that reports changes of its
// systems as they happen (Redfish Server-Sent Events) lets a node waiting
// for a transition read its system once per change instead of polling.
type Watcher interface {
	// Watch returns a channel that receives after the node's BMC reported
	// a change of the node's system, or nil while it reports none; then
	// why, when not empty, says for good why that BMC's nodes are polled
	// (it names the BMC: the engine logs it once).
	Watch(node string) (changes <-chan struct{}, why string)
}

// SystemReader is an optional BMC capability: a node's power state and
// boot progress from one read of its system, which the engine then never
// reads apart.
type SystemReader interface {
	ReadSystem(ctx context.Context, node string) (power.State, power.BootProgress, error)
}

// Recorder receives every node transition. Record need not wait for the
// transition to be durable: most transitions precede only reads (a phase
// starting, a reset confirmed, polls), and fsyncing each on its own would
// make every node wait for the disk. Sync(node) returns once every
// transition of node recorded so far is durable; the engine calls it
// before each action on the node (a reset, a boot override, a
// configuration), so that a node is never acted on beyond its durable
// record. The engine treats an error of either as fatal for the session.
type Recorder interface {
	Record(ctx context.Context, t Transition) error
	Sync(ctx context.Context, node string) error
}

// Clock lets tests run the engine's waits on a fake or scaled timeline.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Phase is one step of an operation, named as in the BOS v1 status tree.
type Phase string

const (
	PhaseShutdown  Phase = "shutdown"
	PhaseBoot      Phase = "boot"
	PhaseConfigure Phase = "configure"
)

// Category is where a node stands within a phase (BOS v1 status categories).
type Category string

const (
	NotStarted Category = "not_started"
	InProgress Category = "in_progress"
	Succeeded  Category = "succeeded"
	Failed     Category = "failed"
	Excluded   Category = "excluded"
)

// Pace says whether nodes move through phases on their own (default) or
// wait for every node of the boot set, as BOS v1 did.
type Pace string

const (
	Independent Pace = "independent"
	Lockstep    Pace = "lockstep"
)

// PaceSpec is one pace with what it means, in the words of the command
// line (help, completion).
type PaceSpec struct {
	Name        Pace
	Description string
}

// Paces lists the paces, the default first.
func Paces() []PaceSpec {
	return []PaceSpec{
		{Independent, "each node moves on when it is ready"},
		{Lockstep, "every phase waits for all nodes (BOS v1)"},
	}
}

// Transition is one node moving to a category within a phase.
type Transition struct {
	Time     time.Time `json:"time"`
	BootSet  string    `json:"boot_set"`
	Node     string    `json:"node"`
	Phase    Phase     `json:"phase"`
	Category Category  `json:"category"`
	// Action is the power action the transition is about, if any. It is
	// recorded twice: before the request goes out (the intent: it may or
	// may not reach the BMC), and again with Sent once the BMC accepted it.
	Action power.Action `json:"action,omitempty"`
	// Sent confirms Action: the BMC accepted it. The confirmation is a
	// transition of its own so that it can carry what was actually sent.
	// Sessions recorded before it existed have intents only, which a
	// resume treats as not confirmed (see resume.go).
	Sent bool `json:"sent,omitempty"`
	// ResetType is the vendor's reset type the BMC accepted for Action
	// (e.g. "Off" for graceful-off on HPE Cray EX), on a confirmation.
	ResetType string `json:"reset_type,omitempty"`
	// Reason is why the node failed or was excluded; on an action's intent,
	// why the engine escalated to it.
	Reason string `json:"reason,omitempty"`
	// PowerState is the node's power state as last read in this phase
	// before the transition, when one was read: where a node stands if
	// the session stops before its next transition.
	PowerState power.State `json:"power_state,omitempty"`
	// Warnings are what the node met since its previous transition that
	// went wrong without failing it, and that an administrator should see:
	// "no one-time boot override (HTTP 405): relied on the boot order".
	// Each is recorded once, with the node's next transition; they are
	// short and name no node, so that the same one on many nodes groups.
	Warnings []string `json:"warnings,omitempty"`
}

// BootSetPlan is one boot set's share of a session.
type BootSetPlan struct {
	Name            string
	Nodes           []string
	BootOrdinal     int
	ShutdownOrdinal int
	// Configuration names the configuration the configure phase runs on
	// this boot set's nodes; empty means the boot set has no configure
	// phase (enable_cfs false, or none named).
	Configuration string
}

// Plan is everything the engine needs to run one session.
type Plan struct {
	SessionID string
	Operation Operation
	Pace      Pace
	BootSets  []BootSetPlan
	// Resume, when set, says where each node of an interrupted session
	// stands, from its durable transitions. A node absent from it starts
	// from the beginning.
	Resume map[string]NodeProgress
}

// NodeProgress is a node's durable position in an interrupted session.
type NodeProgress struct {
	// Finished is true when the node reached its final category (succeeded
	// in its last phase, failed or excluded): it is not acted on again.
	Finished bool
	// Phase is the phase the node was in (or last completed); with
	// Completed true that phase succeeded and the node goes on to the next.
	Phase     Phase
	Completed bool
	// Action is the last power action recorded in Phase, if any, and Sent
	// whether the BMC was recorded as having accepted it; one not
	// confirmed may or may not have reached the BMC. Either way the engine
	// re-reads the power state before deciding whether to send anything
	// again, so no node is reset twice needlessly (rules in resume.go).
	Action power.Action
	Sent   bool
}

// BootPreparer points a node at what it should boot before the engine
// powers it on: stage its boot artifacts and set a one-time boot override
// as the boot set's boot_method says. A reboot prepares the boot before
// the shutdown, so that a node that cannot boot as asked is failed before
// it is touched. It is optional; without one the boot phase only switches
// power. warnings are recorded with the node (e.g. that it relies on its
// boot order); an error fails the node with that reason.
type BootPreparer interface {
	PrepareBoot(ctx context.Context, sessionID, bootSet, node string) (warnings []string, err error)
}

// BootFinisher is an optional capability of a BootPreparer: undo, once a
// node's boot is over (booted, or not within the waits), what preparing it
// changed on the BMC that the boot did not use up (a boot override stored
// as persistent, virtual media). It is called for every node PrepareBoot
// succeeded for in this run, unless the session stops first; its warnings
// are recorded with the node's outcome, which it cannot change.
type BootFinisher interface {
	FinishBoot(ctx context.Context, bootSet, node string) (warnings []string)
}

// Configurer runs a named configuration on a batch of booted nodes and
// reports per node: a nil error is success. err fails the whole batch (the
// runner could not start at all).
type Configurer interface {
	Configure(ctx context.Context, req ConfigureRequest) (perNode map[string]error, err error)
}

// ConfigureRequest is one batch of the configure phase.
type ConfigureRequest struct {
	SessionID     string
	BootSet       string
	Configuration string
	Nodes         []string
}
