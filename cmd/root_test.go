package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/sim"
)

// testEnv is a simulated fleet with its inventory, a state directory and a
// template, and a way to run bos commands against them in-process.
type testEnv struct {
	t         *testing.T
	fleet     *sim.Fleet
	inventory string
	stateDir  string
	template  string
}

const computeTemplate = `name: compute
boot_sets:
  compute:
    type: manifest
    path: manifest.json
    node_roles_groups: [Compute]
`

func newTestEnv(t *testing.T, opts sim.Options) *testEnv {
	t.Helper()
	dir := t.TempDir()
	// Keep any config of the machine running the tests out of the way, and
	// make the engine's and driver's waits match the simulator's time scale.
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("BOS_POLL_BASE", "0.002")
	t.Setenv("BOS_POLL_INTERVAL", "0.01")
	t.Setenv("BOS_REQUEST_RETRY_BACKOFF", "0.001")
	t.Setenv("BOS_REQUEST_TIMEOUT", "2s")
	t.Setenv("BOS_BOOT_BASE_URL", "http://127.0.0.1:9/boot")

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fleet, err := sim.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = fleet.Close() })

	env := &testEnv{t: t, fleet: fleet,
		inventory: filepath.Join(dir, "inventory.yaml"),
		stateDir:  filepath.Join(dir, "state"),
		template:  filepath.Join(dir, "compute.yaml"),
	}
	require.NoError(t, fleet.WriteInventory(env.inventory))
	require.NoError(t, os.WriteFile(env.template, []byte(computeTemplate), 0o600))
	// The template's image: a manifest next to it, as the example one ships.
	manifest, err := os.ReadFile(filepath.Join("..", "templates", "images", "compute", "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o600))
	return env
}

// run executes one bos command line and returns its exit code, stdout and
// stderr.
func (e *testEnv) run(args ...string) (int, string, string) {
	e.t.Helper()
	io, out, errOut := cmdutil.Test()
	global := []string{"--inventory", e.inventory, "--state-dir", e.stateDir}
	code := Run(context.Background(), io, append(global, args...))
	return code, out.String(), errOut.String()
}

func TestRebootWithUnreachableBMCs(t *testing.T) {
	unreachable := []string{"x3000c0s7b0n0", "x3000c0s23b0n0", "x3000c0s41b0n0"}
	env := newTestEnv(t, sim.Options{
		Nodes: 50, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultUnreachable, Nodes: unreachable}},
	})

	code, out, errOut := env.run("session", "create", "--template", env.template, "--operation", "reboot", "-o", "json")
	require.Equal(t, cmdutil.ExitNodesFailed, code, "stdout:\n%s\nstderr:\n%s", out, errOut)

	var result struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		Summary    struct{ Total, Succeeded, Failed int }
		NodeStates map[string]struct {
			Category string `json:"category"`
			Phase    string `json:"phase"`
			Reason   string `json:"reason"`
		} `json:"node_states"`
		RetryCommand string `json:"retry_command"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &result), out)
	assert.Equal(t, "failed", result.Status)
	assert.Equal(t, 50, result.Summary.Total)
	assert.Equal(t, 47, result.Summary.Succeeded)
	assert.Equal(t, 3, result.Summary.Failed)

	var failed []string
	for name, st := range result.NodeStates {
		if st.Category == "failed" {
			failed = append(failed, name)
			assert.Equal(t, "shutdown", st.Phase, name)
			assert.Contains(t, st.Reason, "unreachable", "%s: the reason says what went wrong", name)
		}
	}
	sort.Strings(failed)
	want := append([]string(nil), unreachable...)
	sort.Strings(want)
	assert.Equal(t, want, failed)

	// The retry command selects exactly the failed nodes, with the
	// session's own inventory and settings.
	m := regexp.MustCompile(`^bos session create --template (\S+) --operation reboot --limit (\S+) --inventory (\S+) (.*)$`).FindStringSubmatch(result.RetryCommand)
	require.NotNil(t, m, "retry command %q", result.RetryCommand)
	assert.Equal(t, env.template, m[1])
	assert.Equal(t, env.inventory, m[3])
	assert.Equal(t, "--poll-base 0.002 --poll-interval 0.01 --request-timeout 2s", m[4], "the settings of newTestEnv's environment")
	retryNodes, err := hostlist.Expand(strings.Trim(m[2], "'"))
	require.NoError(t, err)
	assert.ElementsMatch(t, unreachable, retryNodes)

	// Running exactly that limit selects exactly those nodes.
	code, out, errOut = env.run("session", "create", "--template", env.template, "--operation", "reboot",
		"--limit", strings.Trim(m[2], "'"), "--dry-run", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var plan struct {
		BootSets []struct{ Nodes []string } `json:"boot_sets"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &plan))
	require.Len(t, plan.BootSets, 1)
	assert.ElementsMatch(t, unreachable, plan.BootSets[0].Nodes)

	// Every reachable node was reset exactly as a reboot needs: one graceful
	// shutdown and one power on, and no Redfish session was left open.
	for _, n := range env.fleet.Nodes() {
		st, ok := env.fleet.Node(n.Name)
		require.True(t, ok)
		assert.Zero(t, st.ActiveSessions, "%s: sessions logged out", n.Name)
		if contains(unreachable, n.Name) {
			continue
		}
		var resets []string
		for _, a := range st.Actions {
			if a.Kind == "Reset" {
				resets = append(resets, a.Detail)
			}
		}
		assert.Equal(t, []string{"GracefulShutdown", "On"}, resets, n.Name)
		assert.Equal(t, "On", st.PowerState, n.Name)
	}
	// One kept-alive connection and one Redfish session per reachable BMC.
	sessionLog, err := os.ReadFile(filepath.Join(env.stateDir, "sessions", result.ID, "session.log"))
	require.NoError(t, err)
	assert.Regexp(t, `bmc traffic: \d+ requests, 47 connections, 47 logins, 47 logouts, \d+ retries`, string(sessionLog))
}

func TestSessionHistoryCommands(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 4, TimeScale: 0.001})
	code, out, errOut := env.run("session", "create", "--template", env.template, "--operation", "shutdown")
	require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "shutdown compute complete: 4 nodes, 4 succeeded")

	code, out, _ = env.run("session", "list", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code)
	var rows []struct {
		ID, Status, Operation string
		Nodes                 int
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rows), out)
	require.Len(t, rows, 1)
	assert.Equal(t, "complete", rows[0].Status)
	assert.Equal(t, "shutdown", rows[0].Operation)
	assert.Equal(t, 4, rows[0].Nodes)
	id := rows[0].ID

	code, out, _ = env.run("session", "describe", id[:6])
	require.Equal(t, cmdutil.ExitOK, code)
	assert.Contains(t, out, id)
	assert.Regexp(t, `compute\s+shutdown\s+0\s+0\s+4\s+0\s+0`, out, "the tree as counts")
	code, out, _ = env.run("session", "describe", id[:6], "-o", "wide")
	require.Equal(t, cmdutil.ExitOK, code)
	assert.Regexp(t, `compute\s+shutdown\s+-\s+-\s+x3000c0s\[1-4\]b0n0`, out, "-o wide: the tree's node lists")

	code, out, _ = env.run("session", "delete", id)
	require.Equal(t, cmdutil.ExitOK, code)
	assert.Contains(t, out, "deleted "+id)

	code, _, errOut = env.run("session", "describe", id)
	assert.Equal(t, cmdutil.ExitFailure, code)
	assert.Contains(t, errOut, id[:8])
}

func TestInvalidInputExitsTwo(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: Bad_Name\nboot_sets: {}\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown operation", []string{"session", "create", "--template", env.template, "--operation", "explode"}, "--operation"},
		{"missing template flag", []string{"session", "create", "--operation", "boot"}, "template"},
		{"bad pace", []string{"session", "create", "--template", env.template, "--operation", "boot", "--pace", "fast"}, "--pace"},
		{"invalid template", []string{"session", "create", "--template", bad, "--operation", "boot"}, "bad.yaml"},
		{"limit matches nothing", []string{"session", "create", "--template", env.template, "--operation", "boot", "--limit", "nid0001"}, "selects no nodes"},
		{"unknown flag", []string{"session", "list", "--colour"}, "bos: invalid usage: unknown flag: --colour (see 'bos session list --help')\n"},
		{"unknown subcommand", []string{"session", "craete"}, `unknown command "craete" for "bos session"`},
		{"unknown command", []string{"sesion", "list"}, `unknown command "sesion" for "bos"`},
		{"bad status filter", []string{"session", "list", "--status", "happy"}, "--status"},
		{"bad output", []string{"session", "list", "-o", "xml"}, "xml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := env.run(tc.args...)
			assert.Equal(t, cmdutil.ExitInvalid, code, errOut)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
