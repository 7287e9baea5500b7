package cpuprofile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStart(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		t.Setenv(Env, "")
		stop, err := Start()
		require.NoError(t, err)
		stop()
	})
	t.Run("writes the profile and the allocations", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cpu.prof")
		t.Setenv(Env, path)
		stop, err := Start()
		require.NoError(t, err)
		stop()
		for _, file := range []string{path, path + ".allocs"} {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			// pprof's format is gzipped protocol buffers.
			assert.Equal(t, []byte{0x1f, 0x8b}, data[:2], "%s is not a profile", file)
		}
	})
	t.Run("unwritable", func(t *testing.T) {
		t.Setenv(Env, filepath.Join(t.TempDir(), "missing", "cpu.prof"))
		_, err := Start()
		assert.ErrorContains(t, err, Env)
	})
}
