package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// FaultKind names a misbehaviour a BMC can be given.
type FaultKind string

// Fault kinds. Each mimics something real BMCs do.
const (
	// FaultUnreachable: nothing listens on the endpoint (connection refused).
	FaultUnreachable FaultKind = "unreachable"
	// FaultSlow: every request takes 20× the configured latency.
	FaultSlow FaultKind = "slow"
	// Fault5xx: every request, the service root included, gets 503.
	Fault5xx FaultKind = "5xx"
	// FaultConflictAfterOff: Reset On answers 409 for 60 s (scaled) after
	// the node reached Off, as Dell iDRAC does.
	FaultConflictAfterOff FaultKind = "conflict-after-off"
	// FaultIgnoreGraceful: GracefulShutdown/GracefulRestart are accepted
	// but the OS never acts on them.
	FaultIgnoreGraceful FaultKind = "ignore-graceful"
	// FaultStuckPoweringOn: powering on never finishes.
	FaultStuckPoweringOn FaultKind = "stuck-powering-on"
	// FaultWrongCredentials: the BMC has another password than the fleet's,
	// so every login and Basic auth gets 401.
	FaultWrongCredentials FaultKind = "wrong-credentials"
	// FaultTransientUnknown: the first two system reads after a reset report
	// PowerState null, then "Unknown" (as HPE iLO does mid-transition).
	FaultTransientUnknown FaultKind = "transient-unknown"
	// FaultSessionLimit: the session limit is 0, so login always gets 503.
	FaultSessionLimit FaultKind = "session-limit"
	// FaultHeaderBomb: every request is answered with header lines without
	// end, as a broken or hostile BMC might.
	FaultHeaderBomb FaultKind = "header-bomb"
	// FaultBodyBomb: every request is answered 200 with a body without end.
	FaultBodyBomb FaultKind = "body-bomb"
)

var faultKinds = []FaultKind{
	FaultUnreachable, FaultSlow, Fault5xx, FaultConflictAfterOff, FaultIgnoreGraceful,
	FaultStuckPoweringOn, FaultWrongCredentials, FaultTransientUnknown, FaultSessionLimit,
	FaultHeaderBomb, FaultBodyBomb,
}

// Fault gives a kind of misbehaviour to the named nodes plus a share of the
// fleet. The share is chosen deterministically from the fault kind, so the
// same options always hit the same nodes.
type Fault struct {
	Kind     FaultKind
	Nodes    []string // explicit node names
	Fraction float64  // share of the fleet, 0..1
}

// faultSet is the set of fault kinds one node has.
type faultSet uint32

func (s faultSet) has(kind FaultKind) bool { return s&faultBit(kind) != 0 }

func faultBit(kind FaultKind) faultSet {
	return 1 << faultSet(slices.Index(faultKinds, kind))
}

// assignFaults maps node names to their fault sets, rejecting unknown kinds,
// unknown node names and fractions outside 0..1.
func assignFaults(faults []Fault, names []string) (map[string]faultSet, error) {
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
		for _, picked := range pickFraction(fault.Kind, fault.Fraction, len(names)) {
			assigned[names[picked]] |= bit
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
