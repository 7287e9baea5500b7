package session

import (
	"context"
	"fmt"
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

// TestConflictMessageCompresses: the exit-4 message names the held nodes
// as a hostlist, and stays one short line when they are many and scattered.
func TestConflictMessageCompresses(t *testing.T) {
	names := func(from, to, step int) []string {
		var out []string
		for i := from; i <= to; i += step {
			out = append(out, fmt.Sprintf("x3000c0s%db0n0", i))
		}
		return out
	}
	tests := []struct {
		name  string
		nodes []string
		want  string
	}{
		{"one", names(7, 7, 1), "node x3000c0s7b0n0 is reserved"},
		{"a range", names(1, 1000, 1), "nodes x3000c0s[1-1000]b0n0 are reserved"},
		{"scattered", append(names(1, 999, 2), "y1"), "nodes x3000c0s[1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,47,49,51,53,55,57,59,61,63,65,67,69,71,73]b0n0 and 464 more are reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := (&ConflictError{Session: "3f2a", Nodes: tt.nodes}).Error()
			assert.Contains(t, msg, tt.want)
			assert.Contains(t, msg, "reserved by running session 3f2a (wait for it, or cancel it)")
			assert.Less(t, len(msg), 250, msg)
		})
	}
}
