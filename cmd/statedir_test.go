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

// TestLooseStateDirectoryIsTightenedAndSaidOnce: the first command that
// opens a state directory other users can enter makes it 0700 and says so
// on stderr, even with -q; the next one has nothing to say.
func TestLooseStateDirectoryIsTightenedAndSaidOnce(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 1, TimeScale: 0.001})
	require.NoError(t, os.Mkdir(env.stateDir, 0o700))
	require.NoError(t, os.Chmod(env.stateDir, 0o755))

	code, _, errOut := env.run("session", "list", "-q")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	said := "bos: state directory " + env.stateDir + " was mode 0755; tightened to 0700\n" +
		"bos: boot.dir " + filepath.Join(env.stateDir, "boot") + " is inside it: an HTTP server running as another user can no longer read it; " +
		"set boot.dir to a directory outside the state directory\n"
	assert.True(t, strings.HasPrefix(errOut, said), errOut)
	info, err := os.Stat(env.stateDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())

	code, _, errOut = env.run("session", "list")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.NotContains(t, errOut, "tightened")
}
