package session

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPeekChangesNothing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "state")
	_, err := Peek(missing)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.NoDirExists(t, missing, "not created")

	open := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(open, 0o755))
	require.NoError(t, os.Chmod(open, 0o755))
	_, err = Peek(open)
	assert.ErrorContains(t, err, "open to other users")
	info, err := os.Stat(open)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm(), "not made private")

	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir)
	require.NoError(t, err)
	_, rec := startRecorder(t, s, rebootPlan())
	rows, err := Peek(dir)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, rec.ID, rows[0].ID)
}
