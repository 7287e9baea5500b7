package session

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenMakesTheStateDirectoryPrivate: a state directory other users can
// enter is tightened to 0700 when it is ours, and refused, untouched, when
// it is another user's.
func TestOpenMakesTheStateDirectoryPrivate(t *testing.T) {
	tests := []struct {
		name         string
		mode         fs.FileMode // 0: the directory does not exist
		someoneElses bool
		wantMode     fs.FileMode
		wantWas      fs.FileMode
		wantErr      string
	}{
		{name: "missing: created private", wantMode: 0o700},
		{name: "private already", mode: 0o700, wantMode: 0o700},
		{name: "world-readable, ours", mode: 0o755, wantMode: 0o700, wantWas: 0o755},
		{name: "group-writable, ours", mode: 0o770, wantMode: 0o700, wantWas: 0o770},
		{name: "other-enterable only, ours", mode: 0o701, wantMode: 0o700, wantWas: 0o701},
		{name: "private, someone else's (bos as root)", mode: 0o700, someoneElses: true, wantMode: 0o700},
		{name: "world-readable, someone else's", mode: 0o755, someoneElses: true, wantMode: 0o755,
			wantErr: "is mode 0755 (other users can enter it) and belongs to uid "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if tc.mode != 0 {
				require.NoError(t, os.Mkdir(dir, 0o700))
				require.NoError(t, os.Chmod(dir, tc.mode))
			}
			if tc.someoneElses {
				me := os.Geteuid()
				euid = func() int { return me + 1 }
				t.Cleanup(func() { euid = os.Geteuid })
			}
			s, err := Open(dir)
			info, statErr := os.Stat(dir)
			require.NoError(t, statErr)
			assert.Equal(t, tc.wantMode, info.Mode().Perm())
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrUnsafeStateDir)
				assert.Contains(t, err.Error(), dir+" "+tc.wantErr)
				assert.Contains(t, err.Error(), "run `chmod 700 "+dir+"`, or give bos a directory of your own (--state-dir or BOS_STATE_DIR)")
				assert.NoDirExists(t, filepath.Join(dir, sessionsDir), "nothing is written into a refused directory")
				return
			}
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, tc.wantWas, s.TightenedFrom())
			assert.DirExists(t, filepath.Join(dir, sessionsDir))

			again, err := Open(dir)
			require.NoError(t, err)
			defer again.Close()
			assert.Zero(t, again.TightenedFrom(), "tightened once, so said once")
		})
	}
}
