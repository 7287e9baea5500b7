package sim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/bos-project/bos/internal/hostlist"
)

// FaultKind names a misbehaviour a BMC can be given.
type FaultKind string

// Fault kinds. Each mimics something real BMCs do. Some are by nature the
// whole BMC's (its network, its accounts, its session service): given to
// any node, they apply to the BMC endpoint that node sits behind and so to
// every node behind it (see bmcFaultKinds). The others are one system's.
const (
	// FaultUnreachable (per BMC): nothing listens on the endpoint
	// (connection refused).
	FaultUnreachable FaultKind = "unreachable"
	// FaultSlow (per BMC): every request takes 20× the configured latency.
	FaultSlow FaultKind = "slow"
	// Fault5xx (per BMC): every request, the service root included, gets 503.
	Fault5xx FaultKind = "5xx"
	// FaultConflictAfterOff: Reset On answers 409 for 60 s (scaled) after
	// the node reached Off, as Dell iDRAC does, and always to the first On.
	FaultConflictAfterOff FaultKind = "conflict-after-off"
	// FaultIgnoreGraceful: GracefulShutdown/GracefulRestart (and Cray EX's
	// graceful Off) are accepted but the OS never acts on them.
	FaultIgnoreGraceful FaultKind = "ignore-graceful"
	// FaultStuckPoweringOn: powering on never finishes.
	FaultStuckPoweringOn FaultKind = "stuck-powering-on"
	// FaultWrongCredentials (per BMC): the BMC has another password than
	// the fleet's, so every login and Basic auth gets 401.
	FaultWrongCredentials FaultKind = "wrong-credentials"
	// FaultTransientUnknown: the first two system reads after a reset report
	// PowerState null, then "Unknown" (as HPE iLO does mid-transition).
	FaultTransientUnknown FaultKind = "transient-unknown"
	// FaultSessionLimit (per BMC): the session limit is 0, so login always
	// gets 503.
	FaultSessionLimit FaultKind = "session-limit"
	// FaultNoSessionService (per BMC): the service root names no
	// SessionService (nor Links.Sessions) and everything under
	// /redfish/v1/SessionService is 404: Basic auth only, as on some
	// older or stripped-down BMCs.
	FaultNoSessionService FaultKind = "no-session-service"
	// FaultOverridePersistent: every boot override is stored as Continuous,
	// whatever BootSourceOverrideEnabled asked for.
	FaultOverridePersistent FaultKind = "override-persistent"
	// FaultOverrideUnsupported: PATCH of the system's Boot gets 405, though
	// the Boot object still reads as if it could be set.
	FaultOverrideUnsupported FaultKind = "override-unsupported"
	// FaultBootProgressNone: BootProgress.LastState stays "None" (with the
	// Unix epoch as LastStateTime, as stock OpenBMC reports) while the
	// node powers on and boots.
	FaultBootProgressNone FaultKind = "boot-progress-none"
	// FaultBootProgressStale: BootProgress reads "OSRunning" with a
	// LastStateTime a day before the fleet started, never updated, whatever
	// the power state.
	FaultBootProgressStale FaultKind = "boot-progress-stale"
	// FaultBusyIgnoresReset: while the node is PoweringOn or PoweringOff a
	// reset of any type is answered as accepted and has no effect.
	FaultBusyIgnoresReset FaultKind = "busy-ignores-reset"
	// FaultResetAnswerLost: every reset the BMC accepts is carried out, but
	// the connection closes before the answer, as when it is lost on the
	// way: the client cannot tell whether the reset landed.
	FaultResetAnswerLost FaultKind = "reset-answer-lost"
	// FaultFirstResetHangs: the first reset request is neither carried out
	// nor answered; the BMC holds it until the client gives up. Later
	// requests are served normally.
	FaultFirstResetHangs FaultKind = "first-reset-hangs"
	// FaultHeaderBomb: every request is answered with header lines without
	// end, as a broken or hostile BMC might.
	FaultHeaderBomb FaultKind = "header-bomb"
	// FaultBodyBomb: every request is answered 200 with a body without end.
	FaultBodyBomb FaultKind = "body-bomb"
	// FaultNoSSE (per BMC): the EventService is there but names no
	// ServerSentEventUri, and the SSE stream is 404, as on HPE iLO 5 and
	// the BMCs that only push events to subscriptions: a client has to
	// poll.
	FaultNoSSE FaultKind = "no-sse"
	// FaultNoEventService (per BMC): the service root names no
	// EventService and everything under /redfish/v1/EventService is 404,
	// as on older or stripped-down BMCs.
	FaultNoEventService FaultKind = "no-event-service"
	// FaultSSEDrops (per BMC): every SSE stream ends, its connection
	// closed, right after its first event, as when a BMC restarts its web
	// server or drops a subscriber: a client has to notice and poll. A new
	// stream may be opened, and drops the same way.
	FaultSSEDrops FaultKind = "sse-drops"
	// FaultSilent (per BMC): the BMC accepts connections and requests but
	// never answers any, until the client gives up: a hung BMC, or one
	// behind a firewall that swallows its answers.
	FaultSilent FaultKind = "silent"
)

var faultKinds = []FaultKind{
	FaultUnreachable, FaultSlow, Fault5xx, FaultConflictAfterOff, FaultIgnoreGraceful,
	FaultStuckPoweringOn, FaultWrongCredentials, FaultTransientUnknown, FaultSessionLimit,
	FaultNoSessionService, FaultOverridePersistent, FaultOverrideUnsupported,
	FaultBootProgressNone, FaultBootProgressStale, FaultBusyIgnoresReset,
	FaultResetAnswerLost, FaultFirstResetHangs, FaultHeaderBomb, FaultBodyBomb,
	FaultNoSSE, FaultNoEventService, FaultSSEDrops, FaultSilent,
}

// bmcFaultKinds are the kinds that belong to a BMC endpoint rather than to
// one of its systems. A fraction of them picks BMCs, not nodes.
var bmcFaultKinds = []FaultKind{
	FaultUnreachable, FaultSlow, Fault5xx, FaultWrongCredentials, FaultSessionLimit, FaultNoSessionService,
	FaultHeaderBomb, FaultBodyBomb, FaultNoSSE, FaultNoEventService, FaultSSEDrops, FaultSilent,
}

// Fault gives a kind of misbehaviour to the named nodes plus a share of the
// fleet. The share is chosen deterministically from the fault kind, so the
// same options always hit the same nodes.
type Fault struct {
	Kind     FaultKind
	Nodes    []string // explicit node names
	Fraction float64  // share of the fleet, 0..1
}

// faultSet is the set of fault kinds one node or BMC has: one bit per
// kind, room for 32.
type faultSet uint32

func (s faultSet) has(kind FaultKind) bool { return s&faultBit(kind) != 0 }

func faultBit(kind FaultKind) faultSet {
	return 1 << faultSet(slices.Index(faultKinds, kind))
}

// bmcFaults is the mask of bmcFaultKinds.
var bmcFaults = func() faultSet {
	var mask faultSet
	for _, kind := range bmcFaultKinds {
		mask |= faultBit(kind)
	}
	return mask
}()

// forBMC keeps the kinds that belong to a BMC endpoint.
func (s faultSet) forBMC() faultSet { return s & bmcFaults }

// forSystem keeps the kinds that belong to one system.
func (s faultSet) forSystem() faultSet { return s &^ bmcFaults }

// assignFaults maps node names to their fault sets, rejecting unknown kinds,
// unknown node names and fractions outside 0..1. Nodes are grouped perBMC
// to a BMC in order; a fraction of a per-BMC kind picks that share of the
// BMCs and gives it to every node behind them.
func assignFaults(faults []Fault, names []string, perBMC int) (map[string]faultSet, error) {
	assigned := make(map[string]faultSet)
	index := make(map[string]bool, len(names))
	for _, name := range names {
		index[name] = true
	}
	for i, fault := range faults {
		if !slices.Contains(faultKinds, fault.Kind) {
			return nil, fmt.Errorf("%w: fault %d: unknown kind %q: use one of %s", ErrInvalidOptions, i+1, fault.Kind, faultKindNames())
		}
		if fault.Fraction < 0 || fault.Fraction > 1 || math.IsNaN(fault.Fraction) {
			return nil, fmt.Errorf("%w: fault %d (%s): fraction %g: give a share between 0 and 1", ErrInvalidOptions, i+1, fault.Kind, fault.Fraction)
		}
		bit := faultBit(fault.Kind)
		for _, name := range fault.Nodes {
			if !index[name] {
				return nil, fmt.Errorf("%w: fault %d (%s): node %q is not in the fleet (%s … %s)", ErrInvalidOptions, i+1, fault.Kind, name, names[0], names[len(names)-1])
			}
			assigned[name] |= bit
		}
		group := 1
		if bit.forBMC() != 0 {
			group = perBMC
		}
		groups := (len(names) + group - 1) / group
		for _, picked := range pickFraction(fault.Kind, fault.Fraction, groups) {
			for _, name := range names[picked*group : min((picked+1)*group, len(names))] {
				assigned[name] |= bit
			}
		}
	}
	return assigned, nil
}

// pickFraction chooses round(fraction×count) node indexes with a generator
// seeded by the fault kind: reproducible, yet different kinds hit different
// nodes.
func pickFraction(kind FaultKind, fraction float64, count int) []int {
	picks := int(math.Round(fraction * float64(count)))
	if picks == 0 {
		return nil
	}
	seed := fnv.New64a()
	_, _ = seed.Write([]byte(kind))
	random := rand.New(rand.NewPCG(seed.Sum64(), 0))
	return random.Perm(count)[:picks]
}

func faultKindNames() string {
	names := make([]string, len(faultKinds))
	for i, kind := range faultKinds {
		names[i] = string(kind)
	}
	return strings.Join(names, ", ")
}

// ParseFault reads a fault written KIND=FRACTION (unreachable=0.1) or
// KIND=NODES (5xx=x3000c0s[1-2]b0n0, a hostlist), as `bos sim --fault`
// takes it. The kind and the names are checked by Start, against the
// fleet; the caller says where spec came from.
func ParseFault(spec string) (Fault, error) {
	kind, target, ok := strings.Cut(spec, "=")
	if !ok || kind == "" || target == "" {
		return Fault{}, errors.New("write KIND=FRACTION (e.g. unreachable=0.1) or KIND=NODES (e.g. 5xx=x3000c0s[1-2]b0n0)")
	}
	fault := Fault{Kind: FaultKind(kind)}
	if fraction, err := strconv.ParseFloat(target, 64); err == nil {
		fault.Fraction = fraction
		return fault, nil
	}
	names, err := hostlist.Expand(target)
	if err != nil {
		return Fault{}, err
	}
	fault.Nodes = names
	return fault, nil
}
