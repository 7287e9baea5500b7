package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// exampleTemplates are the templates shipped in templates/.
func exampleTemplates(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "templates", "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 5, "the example templates")
	return files
}

func TestExampleTemplatesValidate(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 1, TimeScale: 0.001})
	files := exampleTemplates(t)
	code, out, errOut := env.run(append([]string{"template", "validate"}, files...)...)
	require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Empty(t, errOut, "no warnings: the examples use no deprecated field")
	for _, file := range files {
		assert.Contains(t, out, file+": ok", "every file is checked")
	}
}

// TestExampleTemplatesDryRun plans each example template against a
// simulated fleet with the operation its comment suggests, and checks the
// plan selects the nodes and boots them the way the template says.
func TestExampleTemplatesDryRun(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 4, TimeScale: 0.001})
	t.Setenv("BOS_S3_ENDPOINT", "http://127.0.0.1:9/s3")
	env.withConfiguration(t, "site")
	// One node moves to partition p2, so the partition template must leave
	// it out.
	inv, err := os.ReadFile(env.inventory)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env.inventory, []byte(strings.Replace(string(inv), "partition: p1", "partition: p2", 1)), 0o600))

	all := []string{"x3000c0s1b0n0", "x3000c0s2b0n0", "x3000c0s3b0n0", "x3000c0s4b0n0"}
	tests := []struct {
		file, operation string
		nodes           []string
		phases          []string
		bootMethod      string
		override        string
		iso             string
		configuration   string
	}{
		{file: "compute-reboot.yaml", operation: "reboot", nodes: all, phases: []string{"shutdown", "boot"},
			bootMethod: "pxe", override: "Pxe once"},
		{file: "uefi-http-boot.yaml", operation: "reboot", nodes: all, phases: []string{"shutdown", "boot"},
			bootMethod: "http", override: "UefiHttp once with HttpBootUri http://127.0.0.1:9/boot/ipxe.efi"},
		{file: "virtual-media-iso.yaml", operation: "reboot", nodes: all[:2], phases: []string{"shutdown", "boot"},
			bootMethod: "virtualmedia", override: "Cd once", iso: "http://127.0.0.1:9/s3/boot-images/rescue/rescue-x86_64.iso"},
		{file: "shutdown-partition.yaml", operation: "shutdown", nodes: all[1:], phases: []string{"shutdown"}},
		{file: "configure-only.yaml", operation: "configure", nodes: all, phases: []string{"configure"}, configuration: "site"},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			code, out, errOut := env.run("session", "create", "--template", filepath.Join("..", "templates", tc.file),
				"--operation", tc.operation, "--dry-run", "-o", "json")
			require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			var plan struct {
				BootSets []struct {
					Nodes         []string `json:"nodes"`
					Phases        []string `json:"phases"`
					Configuration string   `json:"configuration"`
				} `json:"boot_sets"`
				Boot []struct {
					BootMethod string `json:"boot_method"`
					Override   string `json:"override"`
					ISO        string `json:"iso"`
					Error      string `json:"error"`
				} `json:"boot"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &plan), out)
			require.Len(t, plan.BootSets, 1)
			assert.Equal(t, tc.nodes, plan.BootSets[0].Nodes)
			assert.Equal(t, tc.phases, plan.BootSets[0].Phases)
			assert.Equal(t, tc.configuration, plan.BootSets[0].Configuration)
			if tc.bootMethod == "" {
				assert.Empty(t, plan.Boot, "nothing boots")
				return
			}
			require.Len(t, plan.Boot, 1)
			assert.Empty(t, plan.Boot[0].Error)
			assert.Equal(t, tc.bootMethod, plan.Boot[0].BootMethod)
			assert.Contains(t, plan.Boot[0].Override, tc.override)
			assert.Equal(t, tc.iso, plan.Boot[0].ISO)
		})
	}
	for _, file := range exampleTemplates(t) {
		assert.True(t, covered[filepath.Base(file)], "%s: add it to this test", file)
	}
}
