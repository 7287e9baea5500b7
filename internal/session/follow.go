package session

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// FollowPoll is how often Watch and FollowLog look again at a running
// session.
const FollowPoll = 200 * time.Millisecond

// Watch calls show with session idOrPrefix's record and, when follow is
// set, again every FollowPoll until the session no longer runs. It
// returns the last record shown.
func (s *Store) Watch(ctx context.Context, idOrPrefix string, follow bool, show func(*Record) error) (*Record, error) {
	for {
		rec, err := s.Get(idOrPrefix)
		if err != nil {
			return nil, err
		}
		if err := show(rec); err != nil {
			return nil, err
		}
		if !follow || rec.Status != StatusRunning {
			return rec, nil
		}
		if err := pause(ctx); err != nil {
			return nil, err
		}
	}
}

// FollowLog copies session idOrPrefix's log to w and, when follow is set,
// keeps copying what is appended until the session no longer runs.
func (s *Store) FollowLog(ctx context.Context, idOrPrefix string, w io.Writer, follow bool) error {
	rec, err := s.Get(idOrPrefix)
	if err != nil {
		return err
	}
	log, err := os.Open(s.LogPath(rec.ID))
	if err != nil {
		return fmt.Errorf("session %s: open its log: %w", rec.ID, err)
	}
	defer log.Close()
	for {
		// Ask whether it still runs before reading what is there, so the
		// lines written just before it ended are never missed.
		running := follow && s.Running(rec.ID)
		if _, err := io.Copy(w, log); err != nil {
			return fmt.Errorf("session %s: read its log: %w", rec.ID, err)
		}
		if !running {
			return nil
		}
		if err := pause(ctx); err != nil {
			return err
		}
	}
}

// pause waits FollowPoll, or returns ctx's error if it ends first.
func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(FollowPoll):
		return nil
	}
}
