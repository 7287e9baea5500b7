package cmd

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// bosExit runs a real bos process and returns its exit code and output.
func bosExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := bosCommand(t, args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err, "bos %v:\n%s", args, out)
	return cmdutil.ExitOK, string(out)
}

// TestConfigFileThatSetsNothing: a config file of only comments, or
// nothing at all, found where bos looks or given with --config, is valid
// as it is to every YAML reader; an empty inventory stays an error, as it
// must name some nodes.
func TestConfigFileThatSetsNothing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("BOS_STATE_DIR", filepath.Join(dir, "state"))
	config := filepath.Join(dir, "bos", "config.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(config), 0o700))
	for name, body := range map[string]string{
		"empty":    "",
		"comments": "# settings of this site: none yet\n# state_dir: /var/lib/bos\n",
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(config, []byte(body), 0o600))
			for _, args := range [][]string{{"session", "list"}, {"--config", config, "session", "list"}} {
				code, out := bosExit(t, args...)
				assert.Equal(t, cmdutil.ExitOK, code, "bos %v:\n%s", args, out)
				assert.Contains(t, out, "no sessions", args)
			}
			inventory := filepath.Join(dir, "inventory.yaml")
			require.NoError(t, os.WriteFile(inventory, []byte(body), 0o600))
			code, out := bosExit(t, "--inventory", inventory, "inventory", "list")
			assert.Equal(t, cmdutil.ExitInvalid, code, out)
			assert.Contains(t, out, inventory+": file is empty")
		})
	}
}

// TestConfigFileShapeMessages: a known section of the wrong type is told
// so, where it is, rather than called an unknown key; a typo is told the
// keys of the settings table, configurations among them.
func TestConfigFileShapeMessages(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("BOS_STATE_DIR", filepath.Join(dir, "state"))
	// want follows the file's name; also is elsewhere in the message.
	tests := []struct{ name, body, want, also, not string }{
		{"section a number", "output: json\nboot: 5\n",
			":2:7: boot must be a mapping (section) of base_url, dir, got number 5", "", "unknown key"},
		{"configurations a list", "configurations: [site]\n",
			":1:17: configurations must be a mapping (section) of named configurations, got a list", "", "unknown key"},
		{"value a mapping", "state_dir:\n  path: /srv/bos\n",
			":2:3: state_dir must be a single value (text, number or true/false), got a mapping", "", "unknown key"},
		{"typo", "boot_wiat: 10m\n", ":1:1: unknown key boot_wiat; known keys: ", ", configurations, configure_batch_size,", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			config := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(config, []byte(tc.body), 0o600))
			code, out := bosExit(t, "--config", config, "session", "list")
			assert.Equal(t, cmdutil.ExitInvalid, code, out)
			assert.Contains(t, out, config+tc.want)
			assert.Contains(t, out, tc.also)
			if tc.not != "" {
				assert.NotContains(t, out, tc.not)
			}
		})
	}
}
