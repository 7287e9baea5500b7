package session

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gofrs/flock"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReservations(t *testing.T) {
	tests := []struct {
		name string
		// holderAlive says whether the first session's process still runs.
		holderAlive  bool
		held, wanted []string
		wantConflict []string
	}{
		{name: "disjoint nodes", holderAlive: true, held: []string{"n1", "n2"}, wanted: []string{"n3"}},
		{name: "overlap with a running session", holderAlive: true, held: []string{"n1", "n2", "n3"}, wanted: []string{"n3", "n4", "n1"}, wantConflict: []string{"n1", "n3"}},
		{name: "overlap with a dead session is cleared", holderAlive: false, held: []string{"n1"}, wanted: []string{"n1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			holder := &Record{Template: "t"}
			require.NoError(t, s.Create(holder))
			require.NoError(t, s.Reserve(t.Context(), holder.ID, tc.held))
			if !tc.holderAlive {
				s.releaseHeld(t, holder.ID)
			}
			other := &Record{Template: "t"}
			require.NoError(t, s.Create(other))

			err := s.Reserve(t.Context(), other.ID, tc.wanted)
			holderFile := filepath.Join(s.root, reservationsDir, holder.ID)
			if tc.wantConflict != nil {
				require.ErrorIs(t, err, ErrConflict)
				var conflict *ConflictError
				require.ErrorAs(t, err, &conflict)
				assert.Equal(t, holder.ID, conflict.Session)
				assert.Equal(t, tc.wantConflict, conflict.Nodes)
				assert.Contains(t, err.Error(), holder.ID)
				assert.NoFileExists(t, filepath.Join(s.root, reservationsDir, other.ID))
				return
			}
			require.NoError(t, err)
			if tc.holderAlive {
				assert.FileExists(t, holderFile)
			} else {
				assert.NoFileExists(t, holderFile, "a dead session's reservation is cleared")
			}
			info, err := os.Stat(filepath.Join(s.root, reservationsDir, other.ID))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		})
	}
}

func TestReleaseFreesNodes(t *testing.T) {
	s := openStore(t)
	first, second := &Record{}, &Record{}
	require.NoError(t, s.Create(first))
	require.NoError(t, s.Create(second))
	require.NoError(t, s.Reserve(t.Context(), first.ID, []string{"n1"}))
	require.ErrorIs(t, s.Reserve(t.Context(), second.ID, []string{"n1"}), ErrConflict)

	require.NoError(t, s.Release(first.ID))
	require.NoError(t, s.Release(first.ID), "releasing twice is harmless")
	require.NoError(t, s.Reserve(t.Context(), second.ID, []string{"n1"}))
	require.NoError(t, s.Reserve(t.Context(), second.ID, []string{"n1", "n2"}), "a session may re-reserve its own nodes")
}

func TestReserveHonoursCancelledContext(t *testing.T) {
	s := openStore(t)
	rec := &Record{}
	require.NoError(t, s.Create(rec))
	// Another process is in the middle of reserving.
	held := flock.New(filepath.Join(s.root, reservationsLock))
	locked, err := held.TryLock()
	require.NoError(t, err)
	require.True(t, locked)
	defer held.Unlock()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, s.Reserve(ctx, rec.ID, []string{"n1"}), context.Canceled)
}
