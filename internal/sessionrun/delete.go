package sessionrun

import (
	"context"
	"time"

	"github.com/bos-project/bos/internal/session"
)

// forceCancelWait is how long a forced Delete waits for a running session
// to stop before deleting it anyway.
const forceCancelWait = 10 * time.Second

// Delete deletes session idOrPrefix and returns its ID. A running session
// is refused (session.ErrRunning) unless force: it is then cancelled
// first, waiting up to forceCancelWait, and deleted even if that fails, as
// cancelErr says.
func (r *Runner) Delete(ctx context.Context, idOrPrefix string, force bool) (id string, cancelErr, err error) {
	rec, err := r.Store.Get(idOrPrefix)
	if err != nil {
		return "", nil, err
	}
	if rec.Status == session.StatusRunning && force {
		_, cancelErr = r.Cancel(ctx, rec.ID, forceCancelWait)
	}
	if err := r.Store.Delete(rec.ID, force); err != nil {
		return "", cancelErr, err
	}
	return rec.ID, cancelErr, nil
}
