package sessionrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bos-project/bos/internal/session"
)

// ErrNotCancellable: the session already ended.
var ErrNotCancellable = errors.New("session already ended")

// cancelWaitPoll is how often Cancel looks whether the session's process
// has stopped.
const cancelWaitPoll = 50 * time.Millisecond

// Cancel stops session idOrPrefix and returns its final record. A running
// session is asked to stop (Store.RequestCancel) and waited for, up to
// wait; an interrupted one is finished here: its unfinished nodes are
// marked cancelled and its reservation released.
func (r *Runner) Cancel(ctx context.Context, idOrPrefix string, wait time.Duration) (*session.Record, error) {
	rec, err := r.Store.Get(idOrPrefix)
	if err != nil {
		return nil, err
	}
	switch rec.Status {
	case session.StatusRunning:
		return r.cancelRunning(ctx, rec.ID, wait)
	case session.StatusInterrupted:
		return r.cancelInterrupted(ctx, rec)
	default:
		return nil, fmt.Errorf("cancel session %s: %w: it is %s", rec.ID, ErrNotCancellable, rec.Status)
	}
}

func (r *Runner) cancelRunning(ctx context.Context, id string, wait time.Duration) (*session.Record, error) {
	if err := r.Store.RequestCancel(id); err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ticker := time.NewTicker(cancelWaitPoll)
	defer ticker.Stop()
	for r.Store.Running(id) {
		select {
		case <-waitCtx.Done():
			return nil, fmt.Errorf("cancel session %s: asked it to stop, but it still runs after %s "+
				"(it stops once its in-flight BMC requests return; look again with 'bos session status %s'): %w",
				id, wait, id, waitCtx.Err())
		case <-ticker.C:
		}
	}
	return r.Store.Get(id)
}

// cancelInterrupted finishes a session nobody runs as cancelled, exactly as
// its own process would have.
func (r *Runner) cancelInterrupted(ctx context.Context, rec *session.Record) (*session.Record, error) {
	if err := r.Store.Acquire(ctx, rec.ID); err != nil {
		return nil, fmt.Errorf("cancel session %s: %w", rec.ID, err)
	}
	p, err := r.Load(rec)
	if err != nil {
		return nil, errors.Join(err, r.Store.Unhold(rec.ID))
	}
	recorder, err := r.Store.NewRecorder(ctx, rec, p.Plan)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cancel session %s: %w", rec.ID, err), r.Store.Unhold(rec.ID))
	}
	defer recorder.Close()
	if err := recorder.MarkCancelled(); err != nil {
		return nil, err
	}
	if err := recorder.Finish(session.StatusCancelled); err != nil {
		return nil, err
	}
	if err := r.Store.Release(rec.ID); err != nil {
		return nil, err
	}
	final := recorder.Snapshot()
	return &final, nil
}
