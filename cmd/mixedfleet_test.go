package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/sim"
)

// Issue 15, done when: "a mixed-profile 1,000-node reboot with every new
// fault ends with each node's true outcome". Two simulated fleets in one
// inventory, every vendor profile in each: 600 nodes two to a BMC (node
// cards, chassis), booted by pxe, and 400 one to a BMC, booted by http
// (which most profiles cannot take). A share of the BMCs is unreachable,
// refuses the password or has no SessionService; a share of the nodes
// stores overrides as Continuous, refuses the override PATCH, reports no
// or stale boot progress, ignores resets while busy, or ignores the
// graceful shutdown. After one reboot, each node's outcome in `describe -o
// json` is the one its profile, boot method and faults call for, and the
// simulators' action logs and /bmcs show what bos did to get there.

// proofFleet is one of the proof's fleets and what its nodes were given.
type proofFleet struct {
	fleet      *sim.Fleet
	bootMethod string // its boot set's

	nodeFaults map[string]sim.FaultKind // per node; "" none
	bmcFaults  map[string]sim.FaultKind // per BMC endpoint; "" none
	profile    map[string]string        // per node
	endpoint   map[string]string        // per node
}

// proofFaults spreads the faults over a fleet of nodes named prefix001…,
// perBMC to a BMC: a BMC's kind by its index, then a node's by its own.
func proofFaults(prefix string, nodes, perBMC int) []sim.Fault {
	byKind := map[sim.FaultKind][]string{}
	width := len(fmt.Sprint(nodes))
	for i := range nodes {
		name := fmt.Sprintf("%s%0*d", prefix, width, i+1)
		bmc := i / perBMC
		switch {
		case bmc%19 == 7:
			byKind[sim.FaultUnreachable] = append(byKind[sim.FaultUnreachable], name)
			continue
		case bmc%17 == 13:
			byKind[sim.FaultWrongCredentials] = append(byKind[sim.FaultWrongCredentials], name)
			continue
		case bmc%11 == 4:
			byKind[sim.FaultNoSessionService] = append(byKind[sim.FaultNoSessionService], name)
		}
		if kind := nodeFaultKinds[i%len(nodeFaultKinds)]; kind != "" {
			byKind[kind] = append(byKind[kind], name)
		}
	}
	var faults []sim.Fault
	for kind, names := range byKind {
		faults = append(faults, sim.Fault{Kind: kind, Nodes: names})
	}
	return faults
}

// nodeFaultKinds are the nodes' own faults, node i getting entry i mod 7:
// 7 and the 6 profiles of a mixed fleet being coprime, every fault meets
// every profile.
var nodeFaultKinds = []sim.FaultKind{"", sim.FaultOverridePersistent, sim.FaultOverrideUnsupported,
	sim.FaultBootProgressNone, sim.FaultBootProgressStale, sim.FaultBusyIgnoresReset, sim.FaultIgnoreGraceful}

// newProofFleet records what proofFaults gave fleet's nodes and BMCs.
func newProofFleet(t *testing.T, fleet *sim.Fleet, bootMethod string, faults []sim.Fault) *proofFleet {
	t.Helper()
	f := &proofFleet{fleet: fleet, bootMethod: bootMethod, nodeFaults: map[string]sim.FaultKind{}, bmcFaults: map[string]sim.FaultKind{},
		profile: map[string]string{}, endpoint: map[string]string{}}
	bmcKind := map[string]sim.FaultKind{} // by node, until endpoints are known
	for _, fault := range faults {
		for _, node := range fault.Nodes {
			if slices.Contains(proofBMCFaults, fault.Kind) {
				bmcKind[node] = fault.Kind
			} else {
				f.nodeFaults[node] = fault.Kind
			}
		}
	}
	for _, b := range fleet.BMCs() {
		for _, node := range b.Nodes {
			f.profile[node], f.endpoint[node] = b.Profile, b.Endpoint
			if kind := bmcKind[node]; kind != "" {
				f.bmcFaults[b.Endpoint] = kind
			}
		}
	}
	return f
}

var proofBMCFaults = []sim.FaultKind{sim.FaultUnreachable, sim.FaultWrongCredentials, sim.FaultNoSessionService}

// trueOutcome is what a node must end as, and the resets its BMC must
// receive.
type trueOutcome struct {
	category, reason string
	warnings         []string
	resets           []string
	bootedFrom       string // the override the boot used; "": the boot order
}

// uefiHTTPTargets are the boot override targets of the profiles that offer
// no UefiHttp, as their BMCs list them.
var uefiHTTPTargets = map[string]string{
	"dmtf":    "None, Pxe, Cd, Usb, Hdd, BiosSetup, Utilities, Diags, SDCard, UefiTarget",
	"openbmc": "None, Pxe, Hdd, Cd, Diags, BiosSetup, Usb",
	"intel":   "None, Pxe, Hdd, Cd, BiosSetup, UefiShell, Usb",
}

// proofOutcome is the true outcome of a node of profile, booted by
// bootMethod (pxe or http), whose BMC has bmcFault and which has its own
// nodeFault.
func proofOutcome(profile, bootMethod string, bmcFault, nodeFault sim.FaultKind) trueOutcome {
	switch bmcFault {
	case sim.FaultUnreachable:
		return trueOutcome{category: "failed", reason: "read power state: BMC unreachable: connection refused"}
	case sim.FaultWrongCredentials:
		return trueOutcome{category: "failed", reason: "read power state: " + wrongPassword}
	}
	// Why the node's BMC cannot take the override its boot method asks
	// for; "": it can.
	var noOverride string
	switch {
	case profile == "cray-ex":
		noOverride = "the system's Boot object has no BootSourceOverrideTarget"
	case bootMethod == "http" && uefiHTTPTargets[profile] != "":
		noOverride = "target UefiHttp is not offered (BMC allows " + uefiHTTPTargets[profile] + ")"
	case nodeFault == sim.FaultOverrideUnsupported:
		noOverride = "HTTP 405"
	}
	if noOverride != "" && bootMethod == "http" {
		// Found out before any power change: the node stays as it was.
		if noOverride == "HTTP 405" {
			noOverride = "the BMC refused it: HTTP 405 Method Not Allowed: PATCH is not allowed on this system. (Base.1.8.OperationNotAllowed)"
		}
		return trueOutcome{category: "failed",
			reason: "prepare boot: boot override unsupported: " + noOverride + "; use boot_method pxe; no power action sent"}
	}
	out := trueOutcome{category: "succeeded", bootedFrom: map[string]string{"pxe": "Pxe", "http": "UefiHttp"}[bootMethod]}
	switch {
	case noOverride != "": // pxe: boots by its boot order
		out.warnings = append(out.warnings, noOverrideWarning(noOverride))
		out.bootedFrom = ""
	case nodeFault == sim.FaultOverridePersistent:
		out.warnings = append(out.warnings, persistentWarns)
	}
	if nodeFault == sim.FaultBootProgressNone || nodeFault == sim.FaultBootProgressStale {
		out.warnings = append(out.warnings, engine.NoBootProgress)
	}
	graceful := "GracefulShutdown"
	if profile == "cray-ex" {
		graceful = "Off"
	}
	switch {
	case profile == "openbmc": // starts Off: nothing to shut down
		out.resets = []string{"On"}
	case nodeFault == sim.FaultIgnoreGraceful:
		out.resets = []string{graceful, "ForceOff", "On"}
	default:
		out.resets = []string{graceful, "On"}
	}
	return out
}

func noOverrideWarning(cause string) string {
	return "no one-time boot override (" + cause + "): relied on the boot order"
}

// joinInventories appends the nodes of the inventory at from to the one at
// to: both fleets share a password, so to's password file serves both.
func joinInventories(t *testing.T, to, from string) {
	t.Helper()
	extra, err := os.ReadFile(from)
	require.NoError(t, err)
	_, nodes, found := strings.Cut(string(extra), "\nnodes:\n")
	require.True(t, found, "%s has no nodes", from)
	f, err := os.OpenFile(to, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(nodes)
	require.NoError(t, errors.Join(err, f.Close()))
}

func TestMixedFleetRebootEndsTrue(t *testing.T) {
	const password = "proof-Pa55"
	scale := sim.Options{Profile: "mixed", TimeScale: 0.001, Password: password}
	cards := scale
	cards.Nodes, cards.NodesPerBMC, cards.NamePrefix = 600, 2, "nc"
	racks := scale
	racks.Nodes, racks.NodesPerBMC, racks.NamePrefix = 400, 1, "rk"

	cards.Faults = proofFaults(cards.NamePrefix, cards.Nodes, cards.NodesPerBMC)
	racks.Faults = proofFaults(racks.NamePrefix, racks.Nodes, racks.NodesPerBMC)
	env := newTestEnv(t, cards)
	rackFleet, err := sim.Start(t.Context(), racks)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rackFleet.Close() })
	fleets := []*proofFleet{newProofFleet(t, env.fleet, "pxe", cards.Faults), newProofFleet(t, rackFleet, "http", racks.Faults)}
	rackInventory := filepath.Join(t.TempDir(), "racks.yaml")
	require.NoError(t, rackFleet.WriteInventory(rackInventory))
	joinInventories(t, env.inventory, rackInventory)

	// The simulator's transitions take tens of milliseconds. The waits are
	// far longer than that, so that a loaded machine (-race, other tests)
	// slows the test down rather than making a node ignore its graceful
	// shutdown or a request time out; only the graceful timeout, which
	// the ignore-graceful nodes wait out, costs wall time.
	t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "2s")
	t.Setenv("BOS_POLL_BASE", "0.01")
	t.Setenv("BOS_POLL_INTERVAL", "0.05")
	t.Setenv("BOS_REQUEST_TIMEOUT", "30s")
	start := time.Now()
	tmpl := env.writeTemplate("proof", `name: proof
boot_sets:
  cards:
    type: manifest
    path: manifest.json
    node_list: ["nc[001-600]"]
  racks:
    type: manifest
    path: manifest.json
    boot_method: http
    node_list: ["rk[001-400]"]
`)
	code, id := env.createJSON("--template", tmpl, "--operation", "reboot",
		"--boot-progress-grace", "300ms", "--boot-wait", "60s")
	wall := time.Since(start)
	t.Logf("reboot of %d nodes on %d BMCs: %s", cards.Nodes+racks.Nodes, len(env.fleet.BMCs())+len(rackFleet.BMCs()), wall.Round(time.Millisecond))
	require.Equal(t, cmdutil.ExitNodesFailed, code)

	rec := env.failures(id)
	counts := map[string]int{}   // true category → nodes
	failedBy := map[string]int{} // true reason → nodes
	for _, f := range fleets {
		met := map[sim.FaultKind]int{} // fault → nodes it met on a BMC bos could use
		for node, profile := range f.profile {
			bmcFault, nodeFault := f.bmcFaults[f.endpoint[node]], f.nodeFaults[node]
			want := proofOutcome(profile, f.bootMethod, bmcFault, nodeFault)
			counts[want.category]++
			if want.category == "failed" {
				failedBy[want.reason]++
			}
			if bmcFault != sim.FaultUnreachable && bmcFault != sim.FaultWrongCredentials {
				met[bmcFault]++
				met[nodeFault]++
			}
			what := fmt.Sprintf("%s (%s, %s, BMC fault %q, fault %q)", node, profile, f.bootMethod, bmcFault, nodeFault)
			checkProofNode(t, f, node, what, want, rec.NodeStates[node])
		}
		for _, kind := range append(slices.Clone(nodeFaultKinds), sim.FaultNoSessionService) {
			assert.Positive(t, met[kind], "%s boot: no node has fault %q", f.bootMethod, kind)
		}
		for _, b := range f.fleet.BMCs() {
			assert.LessOrEqual(t, b.FailedLogins, 1, "%s: failed logins", b.Endpoint)
			if f.bmcFaults[b.Endpoint] == sim.FaultWrongCredentials {
				assert.Equal(t, 1, b.FailedLogins, b.Endpoint)
			}
			assert.LessOrEqual(t, b.Logins, 1, "%s: one Redfish session per BMC", b.Endpoint)
			assert.Zero(t, b.ActiveSessions, "%s: logged out", b.Endpoint)
		}
	}
	t.Logf("true outcomes: %v; %d error_summary groups", counts, len(rec.Summary.ErrorSummary))
	assert.Equal(t, counts["failed"], rec.Summary.Failed)
	// Each cause is one group of error_summary, with all its nodes.
	got := map[string]int{}
	for reason, entry := range rec.Summary.ErrorSummary {
		got[reason] = entry.Count
	}
	assert.Equal(t, failedBy, got)
	assert.Less(t, wall, time.Minute)
}

// checkProofNode checks that node of f ended as want says, in the session
// record (got) and on its simulated BMC.
func checkProofNode(t *testing.T, f *proofFleet, node, what string, want trueOutcome, got nodeRecord) {
	t.Helper()
	assert.Equal(t, want.category, got.Category, what)
	assert.Equal(t, want.reason, got.Reason, what)
	assert.ElementsMatch(t, want.warnings, got.Warnings, what)

	status, ok := f.fleet.Node(node)
	require.True(t, ok, node)
	var resets []string
	for _, a := range status.Actions {
		if a.Kind == "Reset" {
			resets = append(resets, a.Detail)
		}
		assert.False(t, a.Ignored, "%s: no reset sent while the BMC ignores it", what)
	}
	// A node failed before its first power change got none, and is as it
	// was; Cray EX got Off first.
	assert.Equal(t, want.resets, resets, what)
	if want.category == "failed" {
		initial := "On"
		if f.profile[node] == "openbmc" {
			initial = "Off"
		}
		assert.Equal(t, initial, status.PowerState, "%s: left as it was", what)
		return
	}
	assert.Equal(t, "On", status.PowerState, what)
	assert.Equal(t, want.bootedFrom, status.BootedFrom, what)
	// No override is left in force: a one-time one was used by the boot, a
	// persistent one put back.
	assert.True(t, strings.HasSuffix(status.BootSource, "/Disabled"), "%s: boot override %s left", what, status.BootSource)
	if f.nodeFaults[node] == sim.FaultOverridePersistent && want.bootedFrom != "" {
		restored := actionsAfter(status.Actions, "Reset On", "PatchBoot")
		if assert.Len(t, restored, 1, "%s: restored after the power-on", what) {
			// (An HttpBootUri set for http is left, disabled.)
			assert.True(t, strings.HasPrefix(restored[0], "None/Disabled"), "%s: restored %s", what, restored[0])
		}
	}
}

// actionsAfter lists the details of actions of kind after the first action
// "after" ("Kind" or "Kind Detail").
func actionsAfter(actions []sim.ActionRecord, after, kind string) []string {
	var out []string
	seen := false
	for _, a := range actions {
		seen = seen || a.Kind == after || a.Kind+" "+a.Detail == after
		if seen && a.Kind == kind {
			out = append(out, a.Detail)
		}
	}
	return out
}
