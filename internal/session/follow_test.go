package session

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func appendLog(t *testing.T, s *Store, id, text string) {
	t.Helper()
	log, err := s.OpenLog(id)
	require.NoError(t, err)
	_, err = log.WriteString(text)
	require.NoError(t, err)
	require.NoError(t, log.Close())
}

// TestFollowLogCopiesUntilTheSessionEnds: lines written just before the
// session's process lets go of it are still printed.
func TestFollowLogCopiesUntilTheSessionEnds(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	require.NoError(t, err)
	r, rec := startRecorder(t, s, rebootPlan())
	appendLog(t, s, rec.ID, "first\n")

	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- s.FollowLog(t.Context(), rec.ID[:8], &out, true) }()
	appendLog(t, s, rec.ID, "last\n")
	require.NoError(t, r.Finish(StatusComplete))
	require.NoError(t, r.Close())
	require.NoError(t, <-done)
	assert.Equal(t, "first\nlast\n", out.String())

	out.Reset()
	require.NoError(t, s.FollowLog(t.Context(), rec.ID, &out, false))
	assert.Equal(t, "first\nlast\n", out.String(), "without follow: what is there, at once")
}

func TestWatchShowsUntilTheSessionEnds(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	require.NoError(t, err)
	r, rec := startRecorder(t, s, rebootPlan())

	var shown []Status
	last, err := s.Watch(t.Context(), rec.ID, true, func(rec *Record) error {
		shown = append(shown, rec.Status)
		if len(shown) == 1 {
			require.NoError(t, r.Finish(StatusComplete))
			require.NoError(t, r.Close())
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []Status{StatusRunning, StatusFailed}, shown, "every node was left pending: failed")
	assert.Equal(t, StatusFailed, last.Status)

	shown = nil
	_, err = s.Watch(t.Context(), rec.ID, false, func(rec *Record) error {
		shown = append(shown, rec.Status)
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, shown, 1)
}
