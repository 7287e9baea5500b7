package sim

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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

// fleetConfig is what every node of a fleet shares.
type fleetConfig struct {
	timing       Timing // already scaled
	scale        float64
	username     string
	sessionLimit int
	closing      <-chan struct{} // closed when the fleet closes
}

// phase is one stretch of a node's power timeline, lasting from start until
// the next phase's start.
type phase struct {
	power, boot string
	start       time.Time
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

type node struct {
	index    int
	name     string
	endpoint string
	profile  *profile
	fleet    *fleetConfig
	faults   faultSet
	password string
	// requests counts every HTTP request the BMC received, so benchmarks
	// can report requests per node.
	requests atomic.Int64

	mu           sync.Mutex
	timeline     []phase           // timeline[0] is the current phase once compacted
	sessions     map[string]string // token → session id
	sessionSeq   int
	actions      []ActionRecord
	bootEnabled  string
	bootTarget   string
	httpBootURI  string
	bootSource   string // override target the last power-on used; "" = boot order
	media        []mediaState
	unknownReads int
}

func newNode(index int, name string, p *profile, fleet *fleetConfig, faults faultSet, password string) *node {
	n := &node{
		index: index, name: name, profile: p, fleet: fleet, faults: faults, password: password,
		bootEnabled: "Disabled", bootTarget: "None",
		media: make([]mediaState, len(p.virtualMedia)),
	}
	if faults.has(FaultWrongCredentials) {
		n.password = randomHex(12)
	}
	initial := powerOn
	if p.startsOff {
		initial = powerOff
	}
	n.setPower(initial)
	return n
}

func (n *node) info() NodeInfo {
	return NodeInfo{Name: n.name, Endpoint: n.endpoint, System: n.profile.systemPath()}
}

// setPower puts the node in a settled state since the beginning of time, so
// no fault window (conflict-after-off) applies.
func (n *node) setPower(state string) {
	boot := bootNone
	if state == powerOn {
		boot = bootOSRunning
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.timeline = []phase{{power: state, boot: boot}}
}

// current drops finished phases and returns the one in force at now.
// The caller holds n.mu.
func (n *node) current(now time.Time) phase {
	for len(n.timeline) > 1 && !n.timeline[1].start.After(now) {
		n.timeline = n.timeline[1:]
	}
	return n.timeline[0]
}

// schedule replaces the timeline with steps starting now. The caller holds n.mu.
func (n *node) schedule(now time.Time, steps []step) {
	timeline := make([]phase, len(steps))
	start := now
	for i, s := range steps {
		timeline[i] = phase{power: s.power, boot: s.boot, start: start}
		start = start.Add(s.duration)
	}
	n.timeline = timeline
	if n.faults.has(FaultTransientUnknown) {
		n.unknownReads = unknownReadsAfterReset
	}
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
)

// reset applies a ComputerSystem.Reset and records it. Requests that make
// no sense in the current state (On when On) are accepted and change nothing,
// as most BMCs do; a transition in progress makes the node busy (409) except
// for forced power-off, which always wins.
func (n *node) reset(resetType string) resetOutcome {
	n.mu.Lock()
	defer n.mu.Unlock()
	outcome := n.applyReset(time.Now(), resetType)
	n.recordLocked("Reset", resetType, n.resetStatus(outcome))
	return outcome
}

func (n *node) resetStatus(outcome resetOutcome) int {
	switch outcome {
	case resetUnsupported:
		return http.StatusBadRequest
	case resetBusy:
		return http.StatusConflict
	default:
		return n.profile.resetStatus
	}
}

func (n *node) applyReset(now time.Time, resetType string) resetOutcome {
	if !n.profile.offersReset(resetType) {
		return resetUnsupported
	}
	cur := n.current(now)
	settled := cur.power == powerOn || cur.power == powerOff
	if resetType == "PushPowerButton" {
		resetType = "GracefulShutdown"
		if cur.power == powerOff {
			resetType = "On"
		}
	}
	switch resetType {
	case "ForceOff", "Off": // Cray EX's non-standard "Off" cuts power like ForceOff

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
	n.bootSource = ""
	if n.bootEnabled == "Disabled" || n.bootTarget == "None" {
		return
	}
	n.bootSource = n.bootTarget
	if n.bootEnabled == "Once" {
		n.bootEnabled = "Disabled"
	}
}

// refusesOn is the conflict-after-off fault: On is refused for a while after
// the node reached Off.
func (n *node) refusesOn(now time.Time, cur phase) bool {
	if !n.faults.has(FaultConflictAfterOff) || cur.start.IsZero() {
		return false
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
	n.actions = append(n.actions, ActionRecord{Time: time.Now(), Kind: kind, Detail: detail, Status: status})
}

func (n *node) status(now time.Time) NodeStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.current(now)
	return NodeStatus{
		Name:           n.name,
		PowerState:     cur.power,
		BootProgress:   cur.boot,
		ActiveSessions: len(n.sessions),
		BootSource:     n.bootSource,
		Actions:        slices.Clone(n.actions),
	}
}

// credentialsMatch compares in constant time so the simulator does not
// teach clients bad habits about timing.
func (n *node) credentialsMatch(username, password string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(username), []byte(n.fleet.username))
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(n.password))
	return userOK&passOK == 1
}

// sessionLimit is the number of concurrent sessions this BMC allows.
func (n *node) sessionLimit() int {
	if n.faults.has(FaultSessionLimit) {
		return 0
	}
	return n.fleet.sessionLimit
}

// login opens a session; ok is false when the session limit is reached.
func (n *node) login() (id, token string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.sessions) >= n.sessionLimit() {
		return "", "", false
	}
	if n.sessions == nil {
		n.sessions = make(map[string]string)
	}
	n.sessionSeq++
	id = strconv.Itoa(n.sessionSeq)
	token = randomHex(16)
	n.sessions[token] = id
	return id, token, true
}

func (n *node) tokenValid(token string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.sessions[token]
	return ok
}

// logout ends the session with the given id.
func (n *node) logout(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for token, sessionID := range n.sessions {
		if sessionID == id {
			delete(n.sessions, token)
			return true
		}
	}
	return false
}

func (n *node) sessionIDs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]string, 0, len(n.sessions))
	for _, id := range n.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
