package cmd

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/sim"
)

// Issue 15, item 8: a failure's reason names its cause, not the node or its
// BMC, so that nodes failed by one cause are one entry of error_summary, one
// key of the status tree's errors and one row of create's failure table.
// The node and BMC are still named in session.log.

// TestFailureReasonsGroupByCause reboots a mixed fleet in which a tenth of
// the BMCs are unreachable, a few others refuse the credentials, answer 503
// or send an endless header, and the Cray EX nodes are asked to boot over
// UEFI HTTP, which they cannot. Each cause is one group, with every node it
// failed.
func TestFailureReasonsGroupByCause(t *testing.T) {
	// mixed: BMC sN has profile N mod 6 (1 dmtf, 2 ilo, 3 cray-ex, 4
	// gigabyte, 5 openbmc, 0 intel). Each fault below but unreachable is
	// given to nodes of one profile, whose BMCs word it alike.
	causes := []struct {
		fault  sim.FaultKind
		nodes  string
		reason string // "": checked for its grouping alone
	}{
		{sim.FaultUnreachable, "x3000c0s[1,8,13,20,31,44]b0n0", "read power state: BMC unreachable: connection refused"},
		{sim.FaultWrongCredentials, "x3000c0s[10,16]b0n0", ""},
		{sim.Fault5xx, "x3000c0s[12,18]b0n0", ""},
		{sim.FaultHeaderBomb, "x3000c0s[22,28]b0n0", "read power state: answer header over 64 KiB (a broken or hostile BMC)"},
		// The http boot set's nodes, all of them Cray EX: no boot override.
		{"", "x3000c0s[3,9,15,21,27,33,39,45,51,57]b0n0",
			"prepare boot: boot override unsupported: the system's Boot object has no BootSourceOverrideTarget; use boot_method pxe; no power action sent"},
	}
	var faults []sim.Fault
	for _, c := range causes {
		if c.fault != "" {
			faults = append(faults, sim.Fault{Kind: c.fault, Nodes: expand(t, c.nodes)})
		}
	}
	env := newTestEnv(t, sim.Options{Nodes: 60, Profile: "mixed", TimeScale: 0.001, Faults: faults})
	tmpl := env.writeTemplate("mixed", mixedFleetTemplate)

	code, out, errOut := env.run("session", "create", "--template", tmpl, "--operation", "reboot")
	require.Equal(t, cmdutil.ExitNodesFailed, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	id := env.onlySessionID()
	rec := env.failures(id)

	endpoints := map[string]string{}
	for _, node := range env.fleet.Nodes() {
		endpoints[node.Name] = node.Endpoint
	}
	summary := rec.Summary.ErrorSummary
	var groups []string
	for reason := range summary {
		groups = append(groups, reason)
	}
	t.Logf("%d failed nodes in %d error_summary groups:\n  %s", rec.Summary.Failed, len(summary), strings.Join(groups, "\n  "))
	assert.Len(t, summary, len(causes), "one error_summary entry per cause")

	log := env.sessionLog(id)
	for _, c := range causes {
		nodes := expand(t, c.nodes)
		reason := rec.NodeStates[nodes[0]].Reason
		if c.reason != "" {
			assert.Equal(t, c.reason, reason, c.nodes)
		}
		for _, node := range nodes {
			assert.Equal(t, "failed", rec.NodeStates[node].Category, node)
			assert.Equal(t, reason, rec.NodeStates[node].Reason, "%s: the same cause as %s", node, nodes[0])
		}
		entry, ok := summary[reason]
		if assert.True(t, ok, "error_summary has %q", reason) {
			assert.Equal(t, len(nodes), entry.Count, reason)
			assert.Subset(t, nodes, entry.Nodes, reason)
		}
		assert.NotRegexp(t, `x3000|127\.|http://|:\d{4,5}`, reason, "a reason names no node, BMC or port")
		// create's table: one row per cause, with its count and nodes.
		assert.Regexp(t, `(?m)^`+fmt.Sprint(len(nodes))+` +`+regexp.QuoteMeta(c.nodes)+` +(shutdown|boot) +`+regexp.QuoteMeta(reason)+` *$`, out)
		// session.log still says which node and BMC.
		if c.fault != "" {
			assert.Contains(t, log, fmt.Sprintf("node %s (bmc %s)", nodes[0], endpoints[nodes[0]]))
		}
	}
	for _, bs := range rec.BootSets {
		var total int
		for _, nodes := range bs.Errors {
			total += len(nodes)
		}
		assert.LessOrEqual(t, len(bs.Errors), len(causes), "boot set %s: its errors group too", bs.Name)
		assert.Positive(t, total, bs.Name)
	}
}

// expand is a hostlist expression's names.
func expand(t *testing.T, expr string) []string {
	t.Helper()
	names, err := hostlist.Expand(expr)
	require.NoError(t, err)
	return names
}

// onlySessionID is the id of the one session the state directory holds.
func (e *testEnv) onlySessionID() string {
	e.t.Helper()
	rows := e.list()
	require.Len(e.t, rows, 1)
	return rows[0].ID
}

// failuresRecord is the part of `describe -o json` that says why nodes
// failed.
type failuresRecord struct {
	Summary struct {
		Failed       int `json:"failed"`
		ErrorSummary map[string]struct {
			Count int      `json:"count"`
			Nodes []string `json:"nodes"`
		} `json:"error_summary"`
	} `json:"summary"`
	BootSets []struct {
		Name   string              `json:"name"`
		Errors map[string][]string `json:"errors"`
	} `json:"boot_sets"`
	NodeStates map[string]nodeRecord `json:"node_states"`
}

// nodeRecord is a node's entry in node_states.
type nodeRecord struct {
	Category string   `json:"category"`
	Phase    string   `json:"phase"`
	Reason   string   `json:"reason"`
	Warnings []string `json:"warnings"`
}

func (e *testEnv) failures(id string) failuresRecord {
	e.t.Helper()
	code, out, errOut := e.run("session", "describe", id, "-o", "json")
	require.Equal(e.t, cmdutil.ExitOK, code, errOut)
	var rec failuresRecord
	require.NoError(e.t, json.Unmarshal([]byte(out), &rec), out)
	return rec
}

// mixedFleetTemplate boots every profile of the simulator's mixed fleet:
// the HPE Cray EX nodes over HTTP, the others by PXE.
const mixedFleetTemplate = `name: mixed
boot_sets:
  compute:
    type: manifest
    path: manifest.json
    node_groups: [dmtf, ilo, gigabyte, openbmc, intel]
  http:
    type: manifest
    path: manifest.json
    boot_method: http
    node_groups: [cray-ex]
`
