package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// writeTemplate puts a template file in the test's directory.
func (e *testEnv) writeTemplate(name, body string) string {
	e.t.Helper()
	path := filepath.Join(filepath.Dir(e.template), name+".yaml")
	require.NoError(e.t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

// createJSON runs `session create -o json` and returns the exit code and the
// session id.
func (e *testEnv) createJSON(args ...string) (int, string) {
	e.t.Helper()
	code, out, errOut := e.run(append([]string{"session", "create", "-o", "json"}, args...)...)
	var rec struct {
		ID string `json:"id"`
	}
	require.NoError(e.t, json.Unmarshal([]byte(out), &rec), "stdout:\n%s\nstderr:\n%s", out, errOut)
	return code, rec.ID
}

// transitionTimes reads a session's durable journal: when each node reached
// each (phase, category).
func (e *testEnv) transitionTimes(id string) map[string]map[string]time.Time {
	e.t.Helper()
	f, err := os.Open(filepath.Join(e.stateDir, "sessions", id, "events.jsonl"))
	require.NoError(e.t, err)
	defer f.Close()
	times := map[string]map[string]time.Time{}
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		var t struct {
			Node     string    `json:"node"`
			Phase    string    `json:"phase"`
			Category string    `json:"category"`
			Time     time.Time `json:"time"`
		}
		require.NoError(e.t, json.Unmarshal(scan.Bytes(), &t))
		if times[t.Node] == nil {
			times[t.Node] = map[string]time.Time{}
		}
		times[t.Node][t.Phase+"/"+t.Category] = t.Time
	}
	require.NoError(e.t, scan.Err())
	return times
}

// resetTime is when the simulator received the named reset type for node.
func (e *testEnv) resetTime(node, resetType string) time.Time {
	e.t.Helper()
	status, ok := e.fleet.Node(node)
	require.True(e.t, ok, node)
	for _, a := range status.Actions {
		if a.Kind == "Reset" && a.Detail == resetType {
			return a.Time
		}
	}
	e.t.Fatalf("%s never received %s; actions: %+v", node, resetType, status.Actions)
	return time.Time{}
}

// TestOrdinalsAgainstSimulator: a higher ordinal acts only after every node
// of the lower ordinal finished that phase, as the simulator saw it.
func TestOrdinalsAgainstSimulator(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 6, TimeScale: 0.001})
	tmpl := env.writeTemplate("ordered", `name: ordered
boot_sets:
  storage:
    type: s3
    path: s3://images/storage/manifest.json
    boot_method: none
    node_list: [x3000c0s1b0n0, x3000c0s2b0n0, x3000c0s3b0n0]
    shutdown_ordinal: 1
    boot_ordinal: 0
  compute:
    type: s3
    path: s3://images/compute/manifest.json
    boot_method: none
    node_list: [x3000c0s4b0n0, x3000c0s5b0n0, x3000c0s6b0n0]
    shutdown_ordinal: 0
    boot_ordinal: 1
`)
	code, id := env.createJSON("--template", tmpl, "--operation", "reboot")
	require.Equal(t, cmdutil.ExitOK, code)
	times := env.transitionTimes(id)
	storage := []string{"x3000c0s1b0n0", "x3000c0s2b0n0", "x3000c0s3b0n0"}
	compute := []string{"x3000c0s4b0n0", "x3000c0s5b0n0", "x3000c0s6b0n0"}
	// Shutdown: compute (ordinal 0) first, then storage.
	for _, low := range compute {
		for _, high := range storage {
			assert.True(t, env.resetTime(high, "GracefulShutdown").After(times[low]["shutdown/succeeded"]),
				"%s shut down before %s finished shutting down", high, low)
		}
	}
	// Boot: storage (ordinal 0) first, then compute.
	for _, low := range storage {
		for _, high := range compute {
			assert.True(t, env.resetTime(high, "On").After(times[low]["boot/succeeded"]),
				"%s powered on before %s finished booting", high, low)
		}
	}
}

// TestPaceAgainstSimulator: with independent pace a node that is off at once
// is powered on while a slow node is still shutting down; in lockstep it
// waits for the slow one, as BOS v1 did.
func TestPaceAgainstSimulator(t *testing.T) {
	const fast, slow = "x3000c0s1b0n0", "x3000c0s2b0n0"
	for _, pace := range []string{"independent", "lockstep"} {
		t.Run(pace, func(t *testing.T) {
			env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001,
				Faults: []sim.Fault{{Kind: sim.FaultIgnoreGraceful, Nodes: []string{slow}}}})
			// The slow node needs the whole graceful timeout before ForceOff.
			t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "0.3")
			code, id := env.createJSON("--template", env.template, "--operation", "reboot", "--pace", pace)
			require.Equal(t, cmdutil.ExitOK, code)
			fastOn := env.resetTime(fast, "On")
			slowOff := env.transitionTimes(id)[slow]["shutdown/succeeded"]
			assert.Equal(t, []string{"GracefulShutdown", "ForceOff", "On"}, first(env.resetsOf(slow)))
			if pace == "independent" {
				assert.True(t, fastOn.Before(env.resetTime(slow, "ForceOff")),
					"independent: the fast node is powered on before the slow one is even forced off")
			} else {
				assert.True(t, fastOn.After(slowOff), "lockstep: the fast node waits for the slow one")
			}
		})
	}
}

// TestBootExcludesNodesAlreadyOn: boot powers on only the nodes that are off;
// nodes already on are excluded with that reason and get no action.
func TestBootExcludesNodesAlreadyOn(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 4, TimeScale: 0.001})
	off := []string{"x3000c0s1b0n0", "x3000c0s3b0n0"}
	for _, n := range off {
		require.NoError(t, env.fleet.SetPower(n, "Off"))
	}
	code, out, errOut := env.run("session", "create", "--template", env.template, "--operation", "boot", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var rec struct {
		NodeStates map[string]nodeOutcome `json:"node_states"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	for _, node := range env.fleet.Nodes() {
		resets, _ := env.resetsOf(node.Name)
		if contains(off, node.Name) {
			assert.Equal(t, "succeeded", rec.NodeStates[node.Name].Category, node.Name)
			assert.Equal(t, []string{"On"}, resets, node.Name)
			continue
		}
		assert.Equal(t, "excluded", rec.NodeStates[node.Name].Category, node.Name)
		assert.Contains(t, rec.NodeStates[node.Name].Reason, "already on", node.Name)
		assert.Empty(t, resets, "%s: no action for a node already on", node.Name)
	}
}

func first[A, B any](a A, _ B) A { return a }

// TestOverlapLeavesTheRunningSessionAlone: a create that overlaps a running
// session is refused (exit 4) before it touches any BMC, and the running
// session finishes as if nothing had happened.
func TestOverlapLeavesTheRunningSessionAlone(t *testing.T) {
	const slow, other = "x3000c0s1b0n0", "x3000c0s2b0n0"
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultIgnoreGraceful, Nodes: []string{slow}}}})
	// Long enough to overlap, short enough to finish on its own.
	t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "1")
	done := make(chan int, 1)
	go func() {
		code, _, _ := env.runCtx(context.Background(), "session", "create", "--template", env.template,
			"--operation", "reboot", "--limit", slow)
		done <- code
	}()
	id := env.waitRunning()

	code, _, errOut := env.run("session", "create", "--template", env.template, "--operation", "reboot")
	assert.Equal(t, cmdutil.ExitConflict, code, errOut)
	assert.Contains(t, errOut, slow)
	assert.Contains(t, errOut, id)

	require.Equal(t, cmdutil.ExitOK, <-done, "the running session finishes normally")
	code, out, _ := env.run("session", "describe", id, "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code)
	var rec struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	assert.Equal(t, "complete", rec.Status)
	slowResets, _ := env.resetsOf(slow)
	assert.Equal(t, []string{"GracefulShutdown", "ForceOff", "On"}, slowResets)
	otherResets, _ := env.resetsOf(other)
	assert.Empty(t, otherResets, "the refused session never acted")
}
