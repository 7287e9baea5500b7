package cmd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/yamlstrict/yamlstricttest"
)

// TestYAMLSyntaxErrorsPointAtTheProblem runs bos on each slip of
// hand-written YAML given as a template, an inventory and a config file:
// all three say file:line:col where the slip is, as PyYAML would.
func TestYAMLSyntaxErrorsPointAtTheProblem(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("BOS_STATE_DIR", filepath.Join(dir, "state"))
	kinds := []struct {
		name string
		args func(file string) []string
	}{
		{"template", func(file string) []string { return []string{"template", "validate", file} }},
		{"inventory", func(file string) []string { return []string{"--inventory", file, "inventory", "list"} }},
		{"config file", func(file string) []string { return []string{"--config", file, "template", "list"} }},
	}
	for i, tc := range yamlstricttest.SyntaxCases {
		file := filepath.Join(dir, fmt.Sprintf("slip%d.yaml", i))
		require.NoError(t, os.WriteFile(file, []byte(tc.YAML), 0o600))
		for _, kind := range kinds {
			t.Run(kind.name+": "+tc.Name, func(t *testing.T) {
				out, err := bosCommand(t, kind.args(file)...).CombinedOutput()
				var exit *exec.ExitError
				require.True(t, errors.As(err, &exit), "bos %v: %v\n%s", kind.args(file), err, out)
				assert.Equal(t, cmdutil.ExitInvalid, exit.ExitCode(), "%s", out)
				assert.Contains(t, string(out), file+":"+tc.Want)
			})
		}
	}
}
