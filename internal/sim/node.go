package sim

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// Power states and BootProgress.LastState values the simulator reports.
const (
	powerOn          = "On"
	powerOff         = "Off"
	powerPoweringOn  = "PoweringOn"
	powerPoweringOff = "PoweringOff"
	powerUnknown     = "Unknown"

	bootNone         = "None"
	bootInitStarted  = "PrimaryProcessorInitializationStarted"
	bootHardwareDone = "SystemHardwareInitializationComplete"
	bootOSRunning    = "OSRunning"
)

// unknownReadsAfterReset is how many system reads a transient-unknown node
// answers without a real PowerState after each reset.
const unknownReadsAfterReset = 2

// staleBootAge is how long before the fleet started a boot-progress-stale
// node claims its OS came up.
const staleBootAge = 24 * time.Hour

// fleetConfig is what every node of a fleet shares.
type fleetConfig struct {
	timing       Timing // already scaled
	scale        float64
	username     string
	sessionLimit int
	// started is when the fleet came up: since then a node that has not
	// been reset has been in its first state.
	started time.Time
	closing <-chan struct{} // closed when the fleet closes
}

// phase is one stretch of a node's power timeline, lasting from start until
// the next phase's start.
type phase struct {
	power, boot string
	start       time.Time
	// bootSince is when boot became the BootProgress state: start, or
	// earlier when the phase before had the same one (the OS keeps running
	// while a graceful shutdown begins). BootProgress.LastStateTime.
	bootSince time.Time
}

// step is a phase to schedule, lasting duration (the last step lasts forever).
type step struct {
	power, boot string
	duration    time.Duration
}

type mediaState struct {
	image    string
	inserted bool
}

// node is one simulated system behind a BMC: its power timeline, boot
// override and virtual media.
type node struct {
	name   string
	slot   int // its place among its BMC's systems
	bmc    *bmc
	layout *layout
	fleet  *fleetConfig
	faults faultSet // only the per-system kinds

	mu           sync.Mutex
	timeline     []phase // timeline[0] is the current phase once compacted
	actions      []ActionRecord
	bootEnabled  string
	bootTarget   string
	httpBootURI  string
	bootedFrom   string // override target the last power-on used; "" = boot order
	media        []mediaState
	unknownReads int
	resetHung    bool // a first-reset-hangs node has held its first reset
	// refusedOnSince is the start of the Off phase a conflict-after-off
	// node has already refused an On in.
	refusedOnSince time.Time
	// reported is the state a read showed as of the last phase that began,
	// upcoming the scheduled phases yet to begin, and announcer the timer
	// that wakes at the next one's start to announce it (announceDue).
	reported  reportedState
	upcoming  []phase
	announcer *time.Timer
}

// reportedState is what a read of the system shows of its power timeline.
type reportedState struct{ power, boot string }

// addNode puts a new node in the BMC's next system slot.
func (b *bmc) addNode(name string, faults faultSet) *node {
	n := &node{
		name: name, slot: len(b.nodes), bmc: b, layout: b.layout, fleet: b.fleet, faults: faults.forSystem(),
		bootEnabled: "Disabled", bootTarget: "None",
		media: make([]mediaState, len(b.layout.virtualMedia)),
	}
	initial := powerOn
	if b.layout.startsOff {
		initial = powerOff
	}
	n.setPower(initial)
	b.nodes = append(b.nodes, n)
	return n
}

// id is the node's system id on its BMC.
func (n *node) id() string { return n.layout.idOf(n.slot) }

func (n *node) info() NodeInfo {
	return NodeInfo{Name: n.name, Endpoint: n.bmc.endpoint, System: n.layout.pathOf(n.slot)}
}

// setPower puts the node in a settled state since the fleet started, so
// no fault window (conflict-after-off) applies.
func (n *node) setPower(state string) {
	boot := bootNone
	if state == powerOn {
		boot = bootOSRunning
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.timeline = []phase{{power: state, boot: boot, bootSince: n.fleet.started}}
	n.announceFrom(time.Now(), n.timeline)
}

// current drops finished phases and returns the one in force at now.
// The caller holds n.mu.
func (n *node) current(now time.Time) phase {
	for len(n.timeline) > 1 && !n.timeline[1].start.After(now) {
		n.timeline = n.timeline[1:]
	}
	return n.timeline[0]
}

// schedule replaces the timeline with steps starting now. The caller holds
// n.mu and has made timeline[0] the phase in force at now (current).
func (n *node) schedule(now time.Time, steps []step) {
	timeline := make([]phase, len(steps))
	previous, start := n.timeline[0], now
	for i, s := range steps {
		since := start
		if s.boot == previous.boot {
			since = previous.bootSince
		}
		timeline[i] = phase{power: s.power, boot: s.boot, start: start, bootSince: since}
		previous, start = timeline[i], start.Add(s.duration)
	}
	n.timeline = timeline
	n.announceFrom(now, timeline)
	if n.faults.has(FaultTransientUnknown) {
		n.unknownReads = unknownReadsAfterReset
	}
}

// announceFrom replaces what is yet to be announced with the phases of a
// new timeline and announces the first, which begins now. The caller holds
// n.mu.
func (n *node) announceFrom(now time.Time, timeline []phase) {
	n.upcoming = timeline
	n.announceDue(now)
}

// announceDue tells the BMC's event streams of every upcoming phase that
// has begun by now and that a read shows differently from the one before,
// in order, and sets the announcer for the next. One timer per node, reset
// as its timeline is, costs no goroutine until it fires, and a firing that
// a new timeline made stale finds nothing due. The caller holds n.mu.
func (n *node) announceDue(now time.Time) {
	for len(n.upcoming) > 0 && !n.upcoming[0].start.After(now) {
		began := n.upcoming[0]
		n.upcoming = n.upcoming[1:]
		boot, _ := n.bootProgress(began)
		if state := (reportedState{began.power, boot}); state != n.reported {
			n.reported = state
			at := began.start
			if at.IsZero() { // SetPower's state, in force since the fleet started
				at = now
			}
			n.bmc.announce(n.slot, at)
		}
	}
	if len(n.upcoming) == 0 || !n.bmc.servesSSE() {
		return
	}
	wait := n.upcoming[0].start.Sub(now)
	if n.announcer == nil {
		n.announcer = time.AfterFunc(wait, n.announceOnTime)
		return
	}
	n.announcer.Reset(wait)
}

func (n *node) announceOnTime() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.announceDue(time.Now())
}

func (n *node) powerOnSteps() []step {
	t := n.fleet.timing
	if n.faults.has(FaultStuckPoweringOn) {
		return []step{{powerPoweringOn, bootInitStarted, 0}}
	}
	return []step{
		{powerPoweringOn, bootInitStarted, t.PowerOn},
		{powerOn, bootHardwareDone, t.BootToOS},
		{powerOn, bootOSRunning, 0},
	}
}

func (n *node) offSteps(graceful bool) []step {
	t := n.fleet.timing
	if graceful {
		return []step{{powerPoweringOff, bootOSRunning, t.GracefulShutdown}, {powerOff, bootNone, 0}}
	}
	return []step{{powerPoweringOff, bootNone, t.PowerOff}, {powerOff, bootNone, 0}}
}

// offThenOn chains a power-off (without its final settled phase) and a power-on.
func (n *node) offThenOn(graceful bool) []step {
	off := n.offSteps(graceful)
	return append(off[:len(off)-1:len(off)-1], n.powerOnSteps()...)
}

// resetOutcome is how a reset request is answered.
type resetOutcome int

const (
	resetAccepted resetOutcome = iota
	resetUnsupported
	resetBusy
	resetIgnored // answered as accepted, and nothing done (busy-ignores-reset)
	// resetAnswerLost: accepted and carried out; the answer is not sent.
	resetAnswerLost
	// resetHeld: neither carried out nor ever answered.
	resetHeld
)

// reset applies a ComputerSystem.Reset and records it. Requests that make
// no sense in the current state (On when On) are accepted and change nothing,
// as most BMCs do; a transition in progress makes the node busy (409) except
// for forced power-off, which always wins.
func (n *node) reset(resetType string) resetOutcome {
	n.mu.Lock()
	defer n.mu.Unlock()
	var outcome resetOutcome
	if n.faults.has(FaultFirstResetHangs) && !n.resetHung {
		n.resetHung = true
		outcome = resetHeld
	} else {
		outcome = n.applyReset(time.Now(), resetType)
		if outcome == resetAccepted && n.faults.has(FaultResetAnswerLost) {
			outcome = resetAnswerLost
		}
	}
	n.appendLocked(ActionRecord{Kind: "Reset", Detail: resetType, Status: n.resetStatus(outcome), Ignored: outcome == resetIgnored})
	return outcome
}

// resetStatus is the HTTP status a reset is answered with, 0 for none.
func (n *node) resetStatus(outcome resetOutcome) int {
	switch outcome {
	case resetUnsupported:
		return http.StatusBadRequest
	case resetBusy:
		return http.StatusConflict
	case resetAnswerLost, resetHeld:
		return 0
	default:
		return n.layout.resetStatus
	}
}

func (n *node) applyReset(now time.Time, resetType string) resetOutcome {
	if !n.layout.offersReset(resetType) {
		return resetUnsupported
	}
	cur := n.current(now)
	settled := cur.power == powerOn || cur.power == powerOff
	if !settled && n.faults.has(FaultBusyIgnoresReset) {
		return resetIgnored
	}
	switch {
	case resetType == "PushPowerButton" && cur.power == powerOff:
		resetType = "On"
	case resetType == "PushPowerButton", resetType == "Off": // Cray EX's "Off" is its graceful one
		resetType = "GracefulShutdown"
	}
	switch resetType {
	case "ForceOff":
		if cur.power != powerOff {
			n.schedule(now, n.offSteps(false))
		}
		return resetAccepted
	case "Nmi":
		return resetAccepted
	}
	if !settled {
		return resetBusy
	}
	graceful := resetType == "GracefulShutdown" || resetType == "GracefulRestart"
	switch {
	case graceful && cur.power == powerOn && n.faults.has(FaultIgnoreGraceful):
		// Accepted, and the OS never acts on it.
	case cur.power == powerOff && resetType != "GracefulShutdown":
		if n.refusesOn(now, cur) {
			return resetBusy
		}
		n.schedule(now, n.powerOnSteps())
		n.takeBootOverride()
	case cur.power == powerOff, resetType == "On", resetType == "ForceOn":
		// Already where the request leads.
	case resetType == "GracefulShutdown":
		n.schedule(now, n.offSteps(true))
	default: // GracefulRestart, ForceRestart, PowerCycle from On
		n.schedule(now, n.offThenOn(graceful))
		n.takeBootOverride()
	}
	return resetAccepted
}

// takeBootOverride notes what the power-on just scheduled boots from and,
// as firmware does, clears a one-time override once it is used. The caller
// holds n.mu.
func (n *node) takeBootOverride() {
	n.bootedFrom = ""
	if n.bootEnabled == "Disabled" || n.bootTarget == "None" {
		return
	}
	n.bootedFrom = n.bootTarget
	if n.bootEnabled == "Once" {
		n.bootEnabled = "Disabled"
	}
}

// refusesOn is the conflict-after-off fault: On is refused for a while after
// the node reached Off, and always the first time. A real iDRAC's 60 s
// outlast any client's first On; scaled down to milliseconds, the window
// could close before a busy client's first On, and the fault would not show.
func (n *node) refusesOn(now time.Time, cur phase) bool {
	if !n.faults.has(FaultConflictAfterOff) || cur.start.IsZero() {
		return false
	}
	if !n.refusedOnSince.Equal(cur.start) {
		n.refusedOnSince = cur.start
		return true
	}
	window := time.Duration(float64(conflictAfterOff) * n.fleet.scale)
	return now.Sub(cur.start) < window
}

// record appends to the action log. The timestamp is taken under the lock so
// the log is in time order even with concurrent clients.
func (n *node) record(kind, detail string, status int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.recordLocked(kind, detail, status)
}

func (n *node) recordLocked(kind, detail string, status int) {
	n.appendLocked(ActionRecord{Kind: kind, Detail: detail, Status: status})
}

// appendLocked stamps the action with the time and logs it. The caller
// holds n.mu.
func (n *node) appendLocked(action ActionRecord) {
	action.Time = time.Now()
	n.actions = append(n.actions, action)
}

// bootProgress is what the BMC reports as BootProgress (LastState and
// LastStateTime) while phase cur is in force. The caller holds n.mu.
func (n *node) bootProgress(cur phase) (state string, since time.Time) {
	switch {
	case n.faults.has(FaultBootProgressNone):
		return bootNone, time.Unix(0, 0)
	case n.faults.has(FaultBootProgressStale):
		return bootOSRunning, n.fleet.started.Add(-staleBootAge)
	}
	return cur.boot, cur.bootSince
}

// bootSource is the override the node holds as "target/enabled".
// The caller holds n.mu.
func (n *node) bootSource() string { return n.bootTarget + "/" + n.bootEnabled }

func (n *node) status(now time.Time) NodeStatus {
	sessions := n.bmc.activeSessions()
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.current(now)
	boot, _ := n.bootProgress(cur)
	return NodeStatus{
		Name:           n.name,
		PowerState:     cur.power,
		BootProgress:   boot,
		ActiveSessions: sessions,
		BootSource:     n.bootSource(),
		BootedFrom:     n.bootedFrom,
		Actions:        slices.Clone(n.actions),
	}
}
