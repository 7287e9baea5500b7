package cmd

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// runProcessIn is runProcess with stdin, for --limit -.
func (e *testEnv) runProcessIn(stdin string, args ...string) (int, string, string) {
	e.t.Helper()
	c := bosCommand(e.t, append([]string{"--inventory", e.inventory, "--state-dir", e.stateDir}, args...)...)
	c.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	var exit *exec.ExitError
	if err != nil {
		require.ErrorAs(e.t, err, &exit, "bos did not run: %s", errOut.String())
		return exit.ExitCode(), out.String(), errOut.String()
	}
	return 0, out.String(), errOut.String()
}

// actedOn lists the nodes of the fleet whose power was reset (a login to
// read a power state is an action of the BMC too, but changes nothing).
func (e *testEnv) actedOn() []string {
	e.t.Helper()
	var nodes []string
	for name := range e.fleetTraffic() {
		node, ok := e.fleet.Node(name)
		require.True(e.t, ok, name)
		if slices.ContainsFunc(node.Actions, func(a sim.ActionRecord) bool { return a.Kind == "Reset" }) {
			nodes = append(nodes, name)
		}
	}
	slices.Sort(nodes)
	return nodes
}

// TestCrayFlagAliases: the Cray CLI's --template-name, --template-uuid and
// --format work as --template and --output, and a format bos cannot print
// is refused with exit 2 naming those it can.
func TestCrayFlagAliases(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 3, TimeScale: 0.001})
	code, out, errOut := env.runProcessIn("", "session", "create", "--template-name", env.template, "--operation", "reboot",
		"--limit", "x3000c0s2b0n0", "--format", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var rec struct {
		ID       string `json:"id"`
		Template string `json:"template"`
		Status   string `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	assert.Equal(t, "compute", rec.Template)
	assert.Equal(t, "complete", rec.Status)
	assert.Equal(t, []string{"x3000c0s2b0n0"}, env.actedOn())

	code, out, errOut = env.runProcessIn("", "session", "create", "--template-uuid", env.template, "--operation", "boot",
		"--dry-run", "--format", "yaml")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var plan struct {
		Template string `yaml:"template"`
		BootSets []struct {
			Nodes []string `yaml:"nodes"`
		} `yaml:"boot_sets"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(out), &plan), out)
	assert.Equal(t, "compute", plan.Template)
	require.Len(t, plan.BootSets, 1)
	assert.Len(t, plan.BootSets[0].Nodes, 3)

	code, out, errOut = env.runProcessIn("", "session", "list", "--format", "toml")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Contains(t, out, "[[results]]\n")
	assert.Contains(t, out, "id = '"+rec.ID+"'")

	code, _, errOut = env.runProcessIn("", "session", "list", "--format", "xml")
	assert.Equal(t, cmdutil.ExitInvalid, code)
	assert.Contains(t, errOut, `"xml" is not one of table, wide, json, yaml, toml`)

	code, _, errOut = env.runProcessIn("", "inventory", "list", "--template-name", "compute")
	assert.Equal(t, cmdutil.ExitInvalid, code)
	assert.Contains(t, errOut, "unknown flag: --template-name", "an alias only where its flag is")
}

// TestLimitFromFileOrStdin: --limit @FILE and --limit - select the nodes
// they list, and a list that names nothing touches no node.
func TestLimitFromFileOrStdin(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 4, TimeScale: 0.001})
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	require.NoError(t, os.WriteFile(empty, []byte("# drained, none today\n\n"), 0o600))
	for _, args := range [][]string{
		{"session", "create", "--template", env.template, "--operation", "reboot", "--limit", "@" + empty},
		{"power", "off", "@" + empty},
		{"inventory", "check", "--limit", "-"},
	} {
		code, _, errOut := env.runProcessIn("# nothing\n", args...)
		assert.Equal(t, cmdutil.ExitInvalid, code, "%q", args)
		assert.Contains(t, errOut, "holds only blank lines and # comments: --limit is empty", "%q", args)
	}
	assert.Empty(t, env.actedOn(), "an empty list touches no node")

	nodes := filepath.Join(dir, "nodes.txt")
	require.NoError(t, os.WriteFile(nodes, []byte("# rack 1\nx3000c0s1b0n0\n\nx3000c0s3b0n0  # back from repair\n"), 0o600))
	code, out, errOut := env.runProcessIn("", "session", "create", "--template", env.template, "--operation", "reboot",
		"--limit", "@"+nodes, "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var rec struct {
		ID    string   `json:"id"`
		Nodes []string `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	assert.Equal(t, []string{"x3000c0s1b0n0", "x3000c0s3b0n0"}, env.actedOn())
	code, out, errOut = env.runProcessIn("", "session", "describe", rec.ID, "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Contains(t, out, `"limit": "x3000c0s[1,3]b0n0"`, "the record keeps the nodes, not the file")

	code, out, errOut = env.runProcessIn("x3000c0s4b0n0\nx3000c0s1b0n0,compute-nosuch\n",
		"inventory", "list", "--limit", "-", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Contains(t, out, `"x3000c0s4b0n0"`)
	assert.Contains(t, out, `"x3000c0s1b0n0"`)
	assert.NotContains(t, out, `"x3000c0s2b0n0"`)
	assert.Contains(t, errOut, "compute-nosuch", "a term matching nothing is warned about")
}

// TestPowerCommands: bos power status reads power states and changes
// nothing; off, on and reboot act on LIMIT's nodes only, through sessions
// that session list and describe show, and leave the boot override alone.
func TestPowerCommands(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 4, TimeScale: 0.001})

	code, out, errOut := env.runProcessIn("", "power", "status", "x3000c0s[1-2]b0n0")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Contains(t, out, "2 nodes: 2 reachable (On 2), 0 unreachable")
	assert.NotContains(t, out, "x3000c0s3b0n0")
	assert.Empty(t, env.actedOn(), "status changes nothing")

	for _, args := range [][]string{{"power", "off"}, {"power", "status", ""}, {"power", "reboot", " , "}} {
		code, _, errOut = env.runProcessIn("", args...)
		assert.Equal(t, cmdutil.ExitInvalid, code, "%q: %s", args, errOut)
	}
	assert.Contains(t, errOut, "--limit is empty")
	assert.Empty(t, env.actedOn(), "no LIMIT, no node")

	code, out, errOut = env.runProcessIn("", "power", "off", "x3000c0s2b0n0,x3000c0s4b0n0")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Contains(t, out, "shutdown (power) complete: 2 nodes, 2 succeeded")
	assert.Equal(t, []string{"x3000c0s2b0n0", "x3000c0s4b0n0"}, env.actedOn())

	code, out, errOut = env.runProcessIn("", "power", "status", "all", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var report struct {
		Nodes []struct {
			Node       string `json:"node"`
			PowerState string `json:"power_state"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &report), out)
	states := map[string]string{}
	for _, n := range report.Nodes {
		states[n.Node] = n.PowerState
	}
	assert.Equal(t, map[string]string{"x3000c0s1b0n0": "On", "x3000c0s2b0n0": "Off", "x3000c0s3b0n0": "On", "x3000c0s4b0n0": "Off"}, states)

	code, _, errOut = env.runProcessIn("x3000c0s2b0n0\n", "power", "on", "-")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	code, _, errOut = env.runProcessIn("", "power", "reboot", "x3000c0s1b0n0")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	for _, name := range []string{"x3000c0s1b0n0", "x3000c0s2b0n0"} {
		node, ok := env.fleet.Node(name)
		require.True(t, ok)
		assert.Equal(t, "On", node.PowerState, name)
		assert.Equal(t, "None/Disabled", node.BootSource, "%s: the boot override is left alone", name)
		for _, a := range node.Actions {
			assert.NotEqual(t, "PatchBoot", a.Kind, "%s: no boot override set", name)
		}
	}

	rows := env.list()
	require.Len(t, rows, 3, "each power action is a session")
	code, out, errOut = env.runProcessIn("", "session", "list")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	for _, op := range []string{"shutdown", "boot", "reboot"} {
		assert.Regexp(t, `\(power\)\s+`+op+`\s+complete`, out)
	}
}
