package inventory_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd"
	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// password is the BMC password of every fixture; no output may contain it.
const password = "Tr0ub4dor-never-shown"

const staticInventory = "testdata/inventory.yaml"

// run executes a bos command line in-process and returns its exit code,
// stdout and stderr, with waits short enough for a time-scaled simulator.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("BOS_TEST_BMC_PASSWORD", password)
	t.Setenv("BOS_REQUEST_RETRY_BACKOFF", "0.001")
	t.Setenv("BOS_REQUEST_TIMEOUT", "2s")
	io, out, errOut := cmdutil.Test()
	code := cmd.Run(context.Background(), io, args)
	assert.NotContains(t, out.String()+errOut.String(), password, "bos %v printed the BMC password", args)
	return code, out.String(), errOut.String()
}

// startFleet runs a simulated fleet for one test and writes its inventory.
func startFleet(t *testing.T, opts sim.Options) (*sim.Fleet, string) {
	t.Helper()
	opts.Password = password
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fleet, err := sim.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = fleet.Close() })
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	require.NoError(t, fleet.WriteInventory(inv))
	return fleet, inv
}

type listedNode struct {
	Name string `json:"name"`
	BMC  struct {
		Endpoint string `json:"endpoint"`
		Username string `json:"username"`
	} `json:"bmc"`
	Role      string   `json:"role"`
	Groups    []string `json:"groups"`
	Partition string   `json:"partition"`
	Enabled   bool     `json:"enabled"`
}

func TestList(t *testing.T) {
	code, out, errOut := run(t, "--inventory", staticInventory, "inventory", "list")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 1+8+1, out)
	assert.Regexp(t, `^NAME\s+BMC\s+SYSTEM\s+ROLE\s+GROUPS\s+PARTITION\s+ENABLED$`, lines[0])
	assert.Regexp(t, `^nid001\s+http://127.0.0.1:9001\s+-\s+Compute\s+-\s+p1\s+true$`, lines[1])
	assert.Regexp(t, `^nid008\s+http://127.0.0.1:9008\s+-\s+Application/UAN\s+gpu\s+-\s+true$`, lines[8])
	assert.Equal(t, "8 nodes: nid[001-008] (1 disabled not shown: --include-disabled)", lines[9])
}

func TestListSelection(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		want      []string
		wantWarn  string
		wantEmpty bool
	}{
		{"limit by role and partition", []string{"--limit", "Compute,&p1,!nid00[1-2]"}, []string{"nid003", "nid004", "nid005", "nid006"}, "", false},
		{"disabled nodes on request", []string{"--limit", "gpu", "--include-disabled"}, []string{"nid007", "nid008", "nid009"}, "", false},
		{"disabled nodes dropped", []string{"--limit", "gpu"}, []string{"nid007", "nid008"}, "", false},
		{"unmatched terms warned", []string{"--limit", "nid001,nosuch,nid[100-101]"}, []string{"nid001"}, "limit terms matched no node in testdata/inventory.yaml: nosuch, nid[100-101]", false},
		{"nothing selected", []string{"--limit", "nosuch"}, nil, "nosuch", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--inventory", staticInventory, "inventory", "list", "-o", "json"}, tc.args...)
			code, out, errOut := run(t, args...)
			require.Equal(t, cmdutil.ExitOK, code, errOut)
			var nodes []listedNode
			require.NoError(t, json.Unmarshal([]byte(out), &nodes), out)
			var names []string
			for _, n := range nodes {
				names = append(names, n.Name)
			}
			assert.Equal(t, tc.want, names)
			assert.Contains(t, errOut, tc.wantWarn)
			if tc.wantEmpty {
				assert.Equal(t, "[]\n", out, "an empty selection is an empty list, not null")
			}
		})
	}
}

func TestInvalidInputExitsTwo(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"limit syntax", []string{"--inventory", staticInventory, "inventory", "list", "--limit", "nid[5-1]"}, "nid[5-1]"},
		{"missing inventory", []string{"--inventory", "testdata/none.yaml", "inventory", "check"}, "testdata/none.yaml"},
		{"bad output format", []string{"--inventory", staticInventory, "inventory", "list", "-o", "xml"}, "xml"},
		{"bad flag value reaches the config", []string{"--inventory", staticInventory, "inventory", "check", "--max-concurrency", "0"}, "max_concurrency"},
		{"stray argument", []string{"--inventory", staticInventory, "inventory", "list", "nid001"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.args...)
			assert.Equal(t, cmdutil.ExitInvalid, code, errOut)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

func TestNoPasswordInAnyOutput(t *testing.T) {
	fleet, inv := startFleet(t, sim.Options{Nodes: 3, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultWrongCredentials, Nodes: []string{"x3000c0s2b0n0"}}}})
	for _, args := range [][]string{
		{"inventory", "list"}, {"inventory", "list", "-o", "wide"}, {"inventory", "list", "-o", "json"},
		{"inventory", "list", "-o", "yaml"}, {"inventory", "check", "-v"}, {"inventory", "check", "-o", "json", "-v"},
	} {
		code, out, errOut := run(t, append([]string{"--inventory", inv}, args...)...)
		assert.Contains(t, []int{cmdutil.ExitOK, cmdutil.ExitNodesFailed}, code, errOut)
		assert.NotEmpty(t, out, args)
	}
	for _, n := range fleet.Nodes() {
		st, _ := fleet.Node(n.Name)
		assert.Zero(t, st.ActiveSessions, n.Name)
	}
}

type checkReport struct {
	Summary struct {
		Nodes, Reachable, Unreachable, Failed int
		PowerStates                           map[string]int `json:"power_states"`
	} `json:"summary"`
	Nodes []struct {
		Node       string `json:"node"`
		Endpoint   string `json:"endpoint"`
		Reachable  bool   `json:"reachable"`
		PowerState string `json:"power_state"`
		Error      string `json:"error"`
	} `json:"nodes"`
}

func TestCheckMixedFleet(t *testing.T) {
	unreachable, wrongPassword := "x3000c0s4b0n0", "x3000c0s7b0n0"
	fleet, inv := startFleet(t, sim.Options{Nodes: 10, Profile: "mixed", TimeScale: 0.001, Faults: []sim.Fault{
		{Kind: sim.FaultUnreachable, Nodes: []string{unreachable}},
		{Kind: sim.FaultWrongCredentials, Nodes: []string{wrongPassword}},
	}})
	for _, n := range []string{"x3000c0s1b0n0", "x3000c0s2b0n0", "x3000c0s3b0n0"} {
		require.NoError(t, fleet.SetPower(n, "Off"))
	}
	for _, n := range []string{"x3000c0s5b0n0", "x3000c0s6b0n0", "x3000c0s8b0n0", "x3000c0s9b0n0", "x3000c0s10b0n0"} {
		require.NoError(t, fleet.SetPower(n, "On"))
	}

	code, out, errOut := run(t, "--inventory", inv, "inventory", "check", "-o", "json")
	require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
	assert.Contains(t, errOut, "2 of 10 nodes' BMCs could not be used")
	var report checkReport
	require.NoError(t, json.Unmarshal([]byte(out), &report), out)
	assert.Equal(t, 10, report.Summary.Nodes)
	assert.Equal(t, 8, report.Summary.Reachable)
	assert.Equal(t, 1, report.Summary.Unreachable)
	assert.Equal(t, 1, report.Summary.Failed)
	assert.Equal(t, map[string]int{"On": 5, "Off": 3}, report.Summary.PowerStates)
	require.Len(t, report.Nodes, 10)
	for i, n := range fleet.Nodes() {
		got := report.Nodes[i]
		assert.Equal(t, n.Name, got.Node, "inventory order")
		assert.Equal(t, n.Endpoint, got.Endpoint)
		switch n.Name {
		case unreachable:
			assert.False(t, got.Reachable)
			assert.Contains(t, got.Error, "unreachable")
		case wrongPassword:
			assert.False(t, got.Reachable)
			assert.Contains(t, got.Error, "401")
		default:
			st, _ := fleet.Node(n.Name)
			assert.True(t, got.Reachable, n.Name)
			assert.Equal(t, st.PowerState, got.PowerState, n.Name)
			assert.Empty(t, got.Error)
		}
		st, _ := fleet.Node(n.Name)
		assert.Zero(t, st.ActiveSessions, "%s: Redfish session logged out", n.Name)
	}

	code, out, _ = run(t, "--inventory", inv, "inventory", "check")
	require.Equal(t, cmdutil.ExitNodesFailed, code)
	assert.Regexp(t, `(?m)^x3000c0s4b0n0\s+http://\S+\s+-\s+BMC unreachable: connection refused$`, out)
	assert.True(t, strings.HasSuffix(out, "10 nodes: 8 reachable (On 5, Off 3), 1 unreachable, 1 failed\n"), out)
}

func TestCheckAllReachable(t *testing.T) {
	fleet, inv := startFleet(t, sim.Options{Nodes: 6, TimeScale: 0.001})
	code, out, errOut := run(t, "--inventory", inv, "inventory", "check", "--limit", "x3000c0s[2-5]b0n0", "--max-concurrency", "2")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 1+4+1, out)
	assert.Regexp(t, `^4 nodes: 4 reachable \((On|Off) \d(, (On|Off) \d)?\), 0 unreachable$`, lines[5])
	for _, n := range fleet.Nodes() {
		st, _ := fleet.Node(n.Name)
		assert.Zero(t, st.ActiveSessions, n.Name)
		if n.Name == "x3000c0s1b0n0" || n.Name == "x3000c0s6b0n0" {
			assert.Empty(t, st.Actions, "%s: outside --limit, never contacted", n.Name)
		}
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	for _, sub := range [][]string{{}, {"list"}, {"check"}} {
		code, out, _ := run(t, append(append([]string{"inventory"}, sub...), "--help")...)
		require.Equal(t, cmdutil.ExitOK, code)
		assert.Contains(t, out, "Examples:", sub)
	}
}
