package cmd

import (
	"bufio"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
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

// TestCrayEXShutsDownWithOff: on HPE Cray EX, whose only reset types are On,
// Off and ForceOff, the graceful shutdown is Off. A reboot sends Off then
// On; where the OS ignores it, ForceOff follows once the graceful timeout
// is over. Every reset is logged and journaled with
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
