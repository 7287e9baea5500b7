package cmd

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/sim"
)

// Issue 15, items 5 and 6: what a BMC does with boot overrides and boot
// progress is told per node, as warnings, wherever a session is shown.

const (
	persistentNode  = "x3000c0s1b0n0"
	noOverrideNode  = "x3000c0s2b0n0"
	plainNode       = "x3000c0s3b0n0"
	persistentWarns = "boot override stored as Continuous (persistent); restored None/Disabled after boot"
	noOverrideWarns = "no one-time boot override (HTTP 405): relied on the boot order"
)

// warnedRecord is the part of `describe -o json` these tests read.
type warnedRecord struct {
	Status  string `json:"status"`
	Summary struct {
		Succeeded int `json:"succeeded"`
		Failed    int `json:"failed"`
		Warnings  int `json:"warnings"`
	} `json:"summary"`
	NodeStates map[string]struct {
		Category string    `json:"category"`
		Reason   string    `json:"reason"`
		Time     time.Time `json:"time"`
		Warnings []string  `json:"warnings"`
	} `json:"node_states"`
}

func (e *testEnv) describeJSON(id string) warnedRecord {
	e.t.Helper()
	code, out, errOut := e.run("session", "describe", id, "-o", "json")
	require.Equal(e.t, cmdutil.ExitOK, code, errOut)
	var rec warnedRecord
	require.NoError(e.t, json.Unmarshal([]byte(out), &rec), out)
	return rec
}

// actionsAfter lists node's actions of kind, as "detail status", that the
// simulator received after the first action of kind after.
func (e *testEnv) actionsAfter(node, after, kind string) []string {
	e.t.Helper()
	status, ok := e.fleet.Node(node)
	require.True(e.t, ok, node)
	return actionsAfter(status.Actions, after, kind)
}

func TestBootOverrideToldTruthfully(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 3, TimeScale: 0.001, Faults: []sim.Fault{
		{Kind: sim.FaultOverridePersistent, Nodes: []string{persistentNode}},
		{Kind: sim.FaultOverrideUnsupported, Nodes: []string{noOverrideNode}},
	}})
	before, _ := env.fleet.Node(persistentNode)
	require.Equal(t, "None/Disabled", before.BootSource)

	code, out, errOut := env.run("session", "create", "--template", env.template, "--operation", "reboot")
	require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	// create's summary groups the warnings by text, with their nodes.
	assert.Regexp(t, `(?m)^warnings: 2 nodes$`, out)
	assert.Regexp(t, `(?m)^1 +`+persistentNode+` +`+regexp.QuoteMeta(persistentWarns)+` *$`, out)
	assert.Regexp(t, `(?m)^1 +`+noOverrideNode+` +`+regexp.QuoteMeta(noOverrideWarns)+` *$`, out)

	code, list, errOut := env.run("session", "list", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var rows []struct {
		ID       string `json:"id"`
		Warnings int    `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal([]byte(list), &rows), list)
	require.Len(t, rows, 1)
	assert.Equal(t, 2, rows[0].Warnings)
	id := rows[0].ID

	rec := env.describeJSON(id)
	assert.Equal(t, "complete", rec.Status)
	assert.Equal(t, 3, rec.Summary.Succeeded)
	assert.Equal(t, 2, rec.Summary.Warnings)
	assert.Equal(t, []string{persistentWarns}, rec.NodeStates[persistentNode].Warnings)
	assert.Equal(t, []string{noOverrideWarns}, rec.NodeStates[noOverrideNode].Warnings)
	assert.Empty(t, rec.NodeStates[plainNode].Warnings)

	// The BMC holds what it held before, put back by a PATCH after the
	// power-on; the one-time override of a plain node was used by its boot
	// and needs none.
	after, _ := env.fleet.Node(persistentNode)
	assert.Equal(t, "None/Disabled", after.BootSource)
	assert.Equal(t, []string{"None/Disabled"}, env.actionsAfter(persistentNode, "Reset On", "PatchBoot"))
	assert.Empty(t, env.actionsAfter(plainNode, "Reset On", "PatchBoot"))
	plain, _ := env.fleet.Node(plainNode)
	assert.Equal(t, "Pxe", plain.BootedFrom)
	unsupported, _ := env.fleet.Node(noOverrideNode)
	assert.Empty(t, unsupported.BootedFrom, "booted by its boot order")

	code, table, errOut := env.run("session", "describe", id)
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Regexp(t, `(?m)^warnings: 2 nodes$`, table)
	assert.Contains(t, table, persistentWarns)
	assert.Contains(t, table, noOverrideWarns)

	code, wide, errOut := env.run("session", "describe", id, "-o", "wide")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Regexp(t, `(?m)^`+noOverrideNode+` .*`+regexp.QuoteMeta(noOverrideWarns)+` *$`, wide, "the node's line ends with its warnings")
	assert.Regexp(t, `(?m)^`+plainNode+` .* - *$`, wide, "a node without warnings")

	code, listed, errOut := env.run("session", "list")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Regexp(t, `(?mi)^id +template +operation +status +started +duration +nodes +succeeded +failed +warnings *$`, listed)
	assert.Regexp(t, `(?m)^`+id[:8]+` .* 3 +0 +2 *$`, listed)
}

func TestVirtualMediaEjectedAfterBoot(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 1, TimeScale: 0.001})
	const iso = "http://127.0.0.1:9/isos/installer.iso"
	tmpl := env.writeTemplate("installer", `name: installer
boot_sets:
  installer:
    type: manifest
    path: `+iso+`
    boot_method: virtualmedia
    node_roles_groups: [Compute]
`)
	code, id := env.createJSON("--template", tmpl, "--operation", "reboot")
	require.Equal(t, cmdutil.ExitOK, code)
	const node = "x3000c0s1b0n0"
	assert.Empty(t, env.describeJSON(id).NodeStates[node].Warnings)
	assert.Equal(t, []string{iso}, env.actionsAfter(node, "Login", "InsertMedia"))
	assert.Len(t, env.actionsAfter(node, "Reset On", "EjectMedia"), 1, "ejected after the power-on")
	status, _ := env.fleet.Node(node)
	assert.Equal(t, "Cd", status.BootedFrom)
}

func TestBootProgressNotTrustedBlindly(t *testing.T) {
	const (
		noneNode  = "x3000c0s1b0n0"
		staleNode = "x3000c0s2b0n0"
		grace     = 300 * time.Millisecond
	)
	tests := []struct {
		name     string
		flags    []string
		wantCode int
		want     string // the warned nodes' category
	}{
		{name: "warned", wantCode: cmdutil.ExitOK, want: "succeeded"},
		{name: "required", flags: []string{"--require-boot-progress"}, wantCode: cmdutil.ExitNodesFailed, want: "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, sim.Options{Nodes: 3, TimeScale: 0.001, Faults: []sim.Fault{
				{Kind: sim.FaultBootProgressNone, Nodes: []string{noneNode}},
				{Kind: sim.FaultBootProgressStale, Nodes: []string{staleNode}},
			}})
			// Without the grace, these nodes would wait out the hour.
			args := append([]string{"--template", env.template, "--operation", "reboot",
				"--boot-wait", "1h", "--boot-progress-grace", grace.String()}, tt.flags...)
			code, id := env.createJSON(args...)
			require.Equal(t, tt.wantCode, code)
			rec := env.describeJSON(id)
			times := env.transitionTimes(id)
			for _, node := range []string{noneNode, staleNode} {
				state := rec.NodeStates[node]
				assert.Equal(t, tt.want, state.Category, node)
				if tt.want == "failed" {
					assert.Equal(t, engine.NoBootProgress, state.Reason, node)
					assert.Empty(t, state.Warnings, node)
				} else {
					assert.Equal(t, []string{engine.NoBootProgress}, state.Warnings, node)
				}
				// Not taken as booted at once (a stale OSRunning), nor
				// waited for past the grace (the boot wait is an hour).
				waited := times[node]["boot/"+tt.want].Sub(env.resetTime(node, "On"))
				assert.GreaterOrEqual(t, waited, grace, node)
				assert.Less(t, waited, time.Minute, node)
			}
			assert.Equal(t, "succeeded", rec.NodeStates[plainNode].Category)
			assert.Empty(t, rec.NodeStates[plainNode].Warnings)
		})
	}
}
