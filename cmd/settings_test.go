package cmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/config"
)

// runCommands are the commands that run a session.
var runCommands = [][]string{{"session", "create"}, {"session", "resume"}, {"session", "retry"}, {"session", "run-detached"}}

// commandsWithFlag are the commands of root that declare flag as the
// setting of key (global flags: on the root itself).
func commandsWithFlag(root *cobra.Command, flag, key string) [][]string {
	var paths [][]string
	walkCommands(root, func(c *cobra.Command) {
		fl := c.LocalNonPersistentFlags().Lookup(flag)
		if c == root {
			fl = c.PersistentFlags().Lookup(flag)
			if fl != nil {
				paths = append(paths, nil)
			}
			return
		}
		if fl != nil && cmdutil.SetsConfigKey(fl) && fl.Annotations["bos/config-key"][0] == key {
			paths = append(paths, strings.Fields(strings.TrimPrefix(c.CommandPath(), "bos ")))
		}
	})
	return paths
}

// TestEverySettingsFlagWorks: the flag of every setting, on every command
// that takes it, sets what the setting's environment variable sets; the
// settings of a session run are flags of every command that runs one.
func TestEverySettingsFlagWorks(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("NO_COLOR", "")
	configFile := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(configFile, []byte("{}\n"), 0o600))
	newRoot := func() (*cobra.Command, func() (*config.Config, error)) {
		io, _, _ := cmdutil.Test()
		v := config.New()
		return NewRootCmd(cmdutil.NewFactory(context.Background(), io, v), v), func() (*config.Config, error) { return config.Load(v) }
	}
	root, _ := newRoot()

	for _, s := range config.Settings() {
		if s.Flag == "" {
			continue
		}
		t.Run(s.Key, func(t *testing.T) {
			paths := commandsWithFlag(root, s.Flag, s.Key)
			switch s.Scope {
			case config.Global:
				require.Equal(t, [][]string{nil}, paths, "a flag of every command")
				paths = [][]string{{"template", "list"}, {"session", "create"}}
			case config.SessionRun:
				require.Subset(t, paths, runCommands, "a flag of every command that runs a session")
			default:
				require.NotEmpty(t, paths, "no command takes --%s", s.Flag)
			}
			flagValue, envValue := "7", "7" // 7 seconds, 7 of a count, a path
			switch {
			case s.Key == config.KeyConfig:
				flagValue, envValue = configFile, configFile
			case len(s.Choices) > 0:
				flagValue, envValue = s.Choices[len(s.Choices)-1], s.Choices[len(s.Choices)-1]
			case s.Kind() == config.FlagSwitch:
				flagValue, envValue = "true", "true"
			case s.Kind() == config.FlagList:
				flagValue, envValue = "/a,/b", "/a"+string(os.PathListSeparator)+"/b"
			}
			_, loadDefault := newRoot()
			byDefault, err := loadDefault()
			require.NoError(t, err)

			var fromFlags []*config.Config
			for _, path := range paths {
				root, load := newRoot()
				c, _, err := root.Find(path)
				require.NoError(t, err)
				require.NoError(t, c.ParseFlags([]string{"--" + s.Flag + "=" + flagValue}))
				require.NoError(t, root.PersistentPreRunE(c, nil))
				cfg, err := load()
				require.NoError(t, err, path)
				fromFlags = append(fromFlags, cfg)
			}
			t.Setenv(s.Env(), envValue)
			_, loadEnv := newRoot()
			fromEnv, err := loadEnv()
			require.NoError(t, err)
			assert.NotEqual(t, byDefault, fromEnv, "%s=%s changes nothing", s.Env(), envValue)
			for i, cfg := range fromFlags {
				assert.Equal(t, fromEnv, cfg, "%s --%s sets what %s does", paths[i], s.Flag, s.Env())
			}
		})
	}
}
