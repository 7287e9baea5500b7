package sessionrun

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/session"
)

// runningSession creates a running session whose "process" (a goroutine
// holding its lock through its own Store) stops when asked to cancel, and
// a Runner on another Store of the same state directory, as a second bos
// process would have.
func runningSession(t *testing.T) (r *Runner, rec *session.Record, stopped <-chan struct{}) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	owner, err := session.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { owner.Close() })
	rec = &session.Record{Template: "compute", Operation: "reboot", Pace: "independent", Nodes: []string{"n1"},
		Status: session.StatusRunning, StartTime: time.Now()}
	require.NoError(t, owner.Create(rec))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !owner.CancelRequested(rec.ID) {
			time.Sleep(5 * time.Millisecond)
		}
		assert.NoError(t, owner.Unhold(rec.ID))
	}()
	t.Cleanup(func() {
		if owner.RequestCancel(rec.ID) == nil {
			<-done
		}
	})
	other, err := session.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	return &Runner{Store: other}, rec, done
}

func TestDeleteRefusesARunningSession(t *testing.T) {
	r, rec, _ := runningSession(t)
	_, cancelErr, err := r.Delete(t.Context(), rec.ID[:8], false)
	assert.ErrorIs(t, err, session.ErrRunning)
	assert.NoError(t, cancelErr)
	assert.DirExists(t, r.Store.Dir(rec.ID))
}

func TestForcedDeleteCancelsFirst(t *testing.T) {
	r, rec, stopped := runningSession(t)
	id, cancelErr, err := r.Delete(t.Context(), rec.ID[:8], true)
	require.NoError(t, err)
	select {
	case <-stopped:
	default:
		t.Fatal("deleted without cancelling: the session's process still runs")
	}
	assert.NoError(t, cancelErr, "the session stopped when asked")
	assert.Equal(t, rec.ID, id)
	_, statErr := os.Stat(r.Store.Dir(rec.ID))
	assert.ErrorIs(t, statErr, os.ErrNotExist)
}
