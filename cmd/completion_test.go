package cmd

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/cmd/completion"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/sim"
)

// complete asks bos for completions the way the shell scripts do, and
// returns the offered values with their descriptions, and the directive.
func (e *testEnv) complete(args ...string) (map[string]string, string) {
	e.t.Helper()
	io, out, errOut := cmdutil.Test()
	global := []string{"--inventory", e.inventory, "--state-dir", e.stateDir, "--templates", filepath.Join("..", "templates")}
	code := Run(context.Background(), io, append(append([]string{cobra.ShellCompRequestCmd}, global...), args...))
	require.Equal(e.t, cmdutil.ExitOK, code, errOut.String())
	offered := map[string]string{}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, line := range lines[:len(lines)-1] {
		value, description, _ := strings.Cut(line, "\t")
		offered[value] = description
	}
	return offered, lines[len(lines)-1]
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestCompletionOfSessionIDs(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 3, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultUnreachable, Nodes: []string{"x3000c0s3b0n0"}}}})
	code, _, errOut := env.run("session", "create", "--template", env.template, "--operation", "shutdown", "--limit", "x3000c0s[1-2]b0n0")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	code, _, errOut = env.run("session", "create", "--template", env.template, "--operation", "shutdown")
	require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
	ids := map[string]string{}
	for _, row := range env.list() {
		ids[row.Status] = row.ID
	}
	complete, failed := ids["complete"], ids["failed"]
	require.NotEmpty(t, complete)
	require.NotEmpty(t, failed)

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"describe offers every session by its list prefix", []string{"session", "describe", ""}, []string{complete[:8], failed[:8]}},
		{"a typed prefix narrows", []string{"session", "describe", complete[:3]}, []string{complete[:8]}},
		{"a prefix longer than needed is kept", []string{"session", "status", complete[:12]}, []string{complete[:12]}},
		{"retry offers failed sessions only", []string{"session", "retry", ""}, []string{failed[:8]}},
		{"cancel offers running sessions only", []string{"session", "cancel", ""}, []string{}},
		{"delete leaves out ids already given", []string{"session", "delete", complete[:8], ""}, []string{failed[:8]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			offered, directive := env.complete(tc.args...)
			assert.ElementsMatch(t, tc.want, keys(offered))
			assert.Equal(t, ":4", directive, "no file names")
		})
	}
	offered, _ := env.complete("session", "logs", "")
	assert.Contains(t, offered[failed[:8]], "shutdown compute, failed")
	assert.Contains(t, offered[complete[:8]], "shutdown compute, complete")
}

func TestCompletionOfTemplatesLimitsAndChoices(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	tests := []struct {
		name      string
		args      []string
		want      []string
		directive string
	}{
		{"template names from the templates directories", []string{"session", "create", "--template", "c"},
			[]string{"compute", "configure-only"}, ":0"},
		{"template describe", []string{"template", "describe", "uefi"}, []string{"uefi-http-boot"}, ":0"},
		{"a path is left to the shell", []string{"session", "create", "--template", "./"}, []string{}, ":0"},
		{"limit: sets and nodes", []string{"inventory", "list", "--limit", ""},
			[]string{"all", "sim", "dmtf", "Compute", "p1", "x3000c0s1b0n0", "x3000c0s2b0n0"}, ":4"},
		{"limit: the last term", []string{"session", "create", "--limit", "Compute,!x3000c0s2"},
			[]string{"Compute,!x3000c0s2b0n0"}, ":4"},
		{"operations", []string{"session", "create", "--operation", ""}, []string{"boot", "shutdown", "reboot", "configure"}, ":4"},
		{"operation filter of list", []string{"session", "list", "--operation", "re"}, []string{"reboot"}, ":4"},
		{"pace", []string{"session", "create", "--pace", ""}, []string{"independent", "lockstep"}, ":4"},
		{"status", []string{"session", "list", "--status", ""},
			[]string{"running", "complete", "failed", "interrupted", "cancelled", "corrupt"}, ":4"},
		{"output on any command", []string{"template", "list", "-o", ""}, []string{"table", "wide", "json", "yaml", "toml"}, ":4"},
		{"power LIMIT", []string{"power", "reboot", "x3000c0s2"}, []string{"x3000c0s2b0n0"}, ":4"},
		{"power takes one LIMIT", []string{"power", "status", "all", ""}, []string{}, ":4"},
		{"shells", []string{"completion", ""}, []string{"bash", "zsh", "fish"}, ":4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			offered, directive := env.complete(tc.args...)
			assert.ElementsMatch(t, tc.want, keys(offered))
			assert.Equal(t, tc.directive, directive)
		})
	}
	offered, _ := env.complete("session", "create", "--operation", "")
	assert.Equal(t, "shutdown, then boot", offered["reboot"], "choices say what they mean")
}

func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell  string
		want   int
		marker string
	}{
		{"bash", cmdutil.ExitOK, "complete -o default -F __start_bos bos"},
		{"zsh", cmdutil.ExitOK, "#compdef bos"},
		{"fish", cmdutil.ExitOK, "complete -c bos"},
		{"tcsh", cmdutil.ExitInvalid, ""},
	}
	for _, tc := range tests {
		t.Run(tc.shell, func(t *testing.T) {
			io, out, errOut := cmdutil.Test()
			code := Run(context.Background(), io, []string{"completion", tc.shell})
			require.Equal(t, tc.want, code, errOut.String())
			assert.Contains(t, out.String(), tc.marker)
		})
	}
}

// TestCompletionRegistersOnTheWholeTree catches a command renamed or
// removed under the completion table, which would lose its completion.
func TestCompletionRegistersOnTheWholeTree(t *testing.T) {
	io, _, _ := cmdutil.Test()
	v := config.New()
	f := cmdutil.NewFactory(context.Background(), io, v)
	root := NewRootCmd(f, v)
	require.NoError(t, completion.Register(root, f))
	walkCommands(root, func(c *cobra.Command) {
		if fields := strings.Fields(c.Use); len(fields) > 1 && strings.HasPrefix(fields[1], "ID") && !c.Hidden {
			assert.NotNil(t, c.ValidArgsFunction, "%s takes session ids: complete them", c.CommandPath())
		}
	})
}

func walkCommands(c *cobra.Command, visit func(*cobra.Command)) {
	visit(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, visit)
	}
}
