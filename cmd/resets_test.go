package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/sim"
)

// journalEntry is one line of a session's events.jsonl.
type journalEntry struct {
	Node      string    `json:"node"`
	Phase     string    `json:"phase"`
	Category  string    `json:"category"`
	Action    string    `json:"action"`
	Sent      bool      `json:"sent"`
	ResetType string    `json:"reset_type"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
}

// journal reads a session's events.jsonl, per node in recorded order.
func (e *testEnv) journal(id string) map[string][]journalEntry {
	e.t.Helper()
	f, err := os.Open(filepath.Join(e.stateDir, "sessions", id, "events.jsonl"))
	require.NoError(e.t, err)
	defer f.Close()
	byNode := map[string][]journalEntry{}
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		var entry journalEntry
		require.NoError(e.t, json.Unmarshal(scan.Bytes(), &entry))
		byNode[entry.Node] = append(byNode[entry.Node], entry)
	}
	require.NoError(e.t, scan.Err())
	return byNode
}

// sessionLog reads a session's session.log.
func (e *testEnv) sessionLog(id string) string {
	e.t.Helper()
	log, err := os.ReadFile(filepath.Join(e.stateDir, "sessions", id, "session.log"))
	require.NoError(e.t, err)
	return string(log)
}

// ignoredResets counts the resets node's BMC took and did nothing with.
func (e *testEnv) ignoredResets(node string) int {
	e.t.Helper()
	status, ok := e.fleet.Node(node)
	require.True(e.t, ok, node)
	ignored := 0
	for _, action := range status.Actions {
		if action.Ignored {
			ignored++
		}
	}
	return ignored
}

// TestCrayEXShutsDownWithOff: on HPE Cray EX, whose only reset types are On,
// Off and ForceOff, the graceful shutdown is Off. A reboot sends Off then
// On; where the OS ignores it, ForceOff follows once the graceful timeout
// is over, and the log says why. Every reset is logged and journaled with
// the type actually sent.
func TestCrayEXShutsDownWithOff(t *testing.T) {
	const ignoring = "x3000c0s2b0n0"
	env := newTestEnv(t, sim.Options{Nodes: 3, Profile: "cray-ex", TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultIgnoreGraceful, Nodes: []string{ignoring}}}})
	t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "0.05")
	code, id := env.createJSON("--template", env.template, "--operation", "reboot")
	require.Equal(t, cmdutil.ExitOK, code)

	log := env.sessionLog(id)
	journal := env.journal(id)
	for _, node := range env.fleet.Nodes() {
		resets, _ := env.resetsOf(node.Name)
		want := []string{"Off", "On"}
		if node.Name == ignoring {
			want = []string{"Off", "ForceOff", "On"}
		}
		assert.Equal(t, want, resets, node.Name)
		assert.Contains(t, log, node.Name+" compute shutdown in_progress: sent graceful-off (Off)")
		assert.Contains(t, log, node.Name+" compute boot in_progress: sent on (On)")
		var sent []string
		for _, entry := range journal[node.Name] {
			if entry.Sent {
				sent = append(sent, entry.Action+"="+entry.ResetType)
			}
		}
		wantSent := []string{"graceful-off=Off", "on=On"}
		if node.Name == ignoring {
			wantSent = []string{"graceful-off=Off", "force-off=ForceOff", "on=On"}
		}
		assert.Equal(t, wantSent, sent, "%s: events.jsonl records the type sent", node.Name)
	}
	assert.Contains(t, log, ignoring+" compute shutdown in_progress: sending force-off: "+
		"graceful shutdown (Off) accepted but power stayed On for 0.05s: forcing off")
	assert.NotContains(t, log, "sent force-off (Off)")
}

// TestBootMethodCheckedBeforeAnyReset: a reboot with boot_method http on a
// fleet where most BMCs cannot boot that way (no UefiHttp among their
// override targets, no Boot override at all on Cray EX, or a PATCH the BMC
// refuses) fails those nodes at once, with the reason and what to do
// instead, sending them no reset: they stay as they were, while the node
// that can boot that way reboots.
func TestBootMethodCheckedBeforeAnyReset(t *testing.T) {
	// mixed: one BMC per profile, in the order dmtf, ilo, cray-ex,
	// gigabyte, openbmc, intel. ilo and gigabyte offer UefiHttp, and
	// gigabyte's BMC here refuses every boot override PATCH.
	const canBoot, refusesPatch = "x3000c0s2b0n0", "x3000c0s4b0n0"
	env := newTestEnv(t, sim.Options{Nodes: 6, Profile: "mixed", TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultOverrideUnsupported, Nodes: []string{refusesPatch}}}})
	tmpl := env.writeTemplate("httpboot", `name: httpboot
boot_sets:
  compute:
    type: manifest
    path: manifest.json
    boot_method: http
    node_roles_groups: [Compute]
`)
	before := map[string]string{}
	for _, node := range env.fleet.Nodes() {
		status, _ := env.fleet.Node(node.Name)
		before[node.Name] = status.PowerState
	}
	require.Equal(t, "gigabyte", profileOf(t, env, refusesPatch))
	require.Equal(t, "ilo", profileOf(t, env, canBoot))

	code, out, errOut := env.run("session", "create", "--template", tmpl, "--operation", "reboot", "-o", "json")
	require.Equal(t, cmdutil.ExitNodesFailed, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	var result struct {
		NodeStates map[string]nodeOutcome `json:"node_states"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &result), out)

	for _, node := range env.fleet.Nodes() {
		outcome := result.NodeStates[node.Name]
		resets, _ := env.resetsOf(node.Name)
		status, _ := env.fleet.Node(node.Name)
		if node.Name == canBoot {
			assert.Equal(t, "succeeded", outcome.Category, "%+v", outcome)
			assert.Equal(t, []string{"GracefulShutdown", "On"}, resets)
			assert.Equal(t, "UefiHttp", status.BootedFrom)
			continue
		}
		assert.Equal(t, "failed", outcome.Category, "%s: %+v", node.Name, outcome)
		assert.Contains(t, outcome.Reason, "boot override unsupported", node.Name)
		assert.Contains(t, outcome.Reason, "use boot_method pxe", node.Name)
		assert.Contains(t, outcome.Reason, "no power action sent", node.Name)
		assert.Empty(t, resets, "%s: no reset for a node that could not boot", node.Name)
		assert.Equal(t, before[node.Name], status.PowerState, "%s: left as it was", node.Name)
	}
	assert.Equal(t, "On", before[refusesPatch])
	env.requireNoSessionLeft()
}

// profileOf names the simulator profile of node.
func profileOf(t *testing.T, env *testEnv, node string) string {
	t.Helper()
	bySystem := map[string]string{"437XR1138R2": "dmtf", "1": "ilo", "Node0": "cray-ex", "Self": "gigabyte", "system": "openbmc", "QSBP74100021": "intel"}
	for _, info := range env.fleet.Nodes() {
		if info.Name == node {
			return bySystem[path.Base(info.System)]
		}
	}
	t.Fatalf("no node %s", node)
	return ""
}

// powerOnBehindBOS starts powering node on, as another tool would, and
// returns when its BMC accepted it.
func (e *testEnv) powerOnBehindBOS(node string) {
	e.t.Helper()
	inv, _, err := inventory.Load(e.inventory)
	require.NoError(e.t, err)
	target, ok := inv.Node(node)
	require.True(e.t, ok)
	pool := bmc.NewPool([]inventory.Node{target}, bmc.Options{})
	defer pool.Close(context.Background())
	_, err = pool.Reset(context.Background(), node, power.PowerOn)
	require.NoError(e.t, err)
}

// TestBusyBMCs: a BMC that accepts resets and ignores them while the node
// is powering on or off (as Cray EX BMCs do) gets none then: bos waits for
// the node to settle, and the node ends as it truly is, with the log
// saying why a step waited.
func TestBusyBMCs(t *testing.T) {
	timing := sim.DefaultTiming()
	timing.PowerOn = 500 * time.Second          // 0.5 s at this time scale
	timing.GracefulShutdown = 300 * time.Second // 0.3 s
	const scale = 0.001
	busy := []sim.Fault{{Kind: sim.FaultBusyIgnoresReset, Fraction: 1}}

	t.Run("powering on when the reboot starts", func(t *testing.T) {
		const node = "x3000c0s1b0n0"
		env := newTestEnv(t, sim.Options{Nodes: 2, Profile: "cray-ex", TimeScale: scale, Timing: timing, Faults: busy})
		t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "2")
		require.NoError(t, env.fleet.SetPower(node, "Off"))
		env.powerOnBehindBOS(node)
		poweringOnUntil := env.resetTime(node, "On").Add(time.Duration(float64(timing.PowerOn) * scale))

		code, id := env.createJSON("--template", env.template, "--operation", "reboot")
		require.Equal(t, cmdutil.ExitOK, code)
		started := env.journal(id)[node][0]
		require.True(t, started.Time.Before(poweringOnUntil), "the reboot must start while the node is powering on")

		resets, _ := env.resetsOf(node)
		assert.Equal(t, []string{"On", "Off", "On"}, resets, "no reset while busy, so the graceful Off is not ignored and no ForceOff is needed")
		assert.Zero(t, env.ignoredResets(node))
		assert.Contains(t, env.sessionLog(id), node+" compute shutdown in_progress: PoweringOn: waiting up to 2s for it to settle before graceful-off")
	})

	t.Run("still powering off after the graceful timeout", func(t *testing.T) {
		env := newTestEnv(t, sim.Options{Nodes: 2, Profile: "cray-ex", TimeScale: scale, Timing: timing, Faults: busy})
		t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "0.05")
		code, id := env.createJSON("--template", env.template, "--operation", "reboot")
		require.Equal(t, cmdutil.ExitOK, code)
		log := env.sessionLog(id)
		for _, node := range env.fleet.Nodes() {
			resets, _ := env.resetsOf(node.Name)
			assert.Equal(t, []string{"Off", "On"}, resets, "%s: no ForceOff to a node powering off, where it would be ignored", node.Name)
			assert.Zero(t, env.ignoredResets(node.Name), node.Name)
			assert.Contains(t, log, node.Name+" compute shutdown in_progress: PoweringOff: waiting up to 180s for it to settle before force-off")
		}
		assert.False(t, strings.Contains(log, "sending force-off"), "no force-off was needed:\n%s", log)
	})
}
