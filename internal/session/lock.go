package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// sessionLock is the flock(2) on sessions/<id>/lock that marks a session as
// running. It is its own small type rather than a gofrs/flock because a
// detached run inherits the lock as an open descriptor from the create that
// took it (flock locks belong to the open file, not to the process), so the
// session never looks dead between the two processes.
type sessionLock struct {
	file *os.File
}

func lockPath(dir string) string { return filepath.Join(dir, sessionLockFile) }

// tryLockSession takes the lock of the session in dir without waiting; a
// nil lock with a nil error means another open file holds it.
func tryLockSession(dir string) (*sessionLock, error) {
	f, err := os.OpenFile(lockPath(dir), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open session lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return &sessionLock{file: f}, nil
}

// lockSessionWithin retries tryLockSession until ctx ends.
func lockSessionWithin(ctx context.Context, dir string, retry time.Duration) (*sessionLock, error) {
	for {
		lock, err := tryLockSession(dir)
		if lock != nil || err != nil {
			return lock, err
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(retry):
		}
	}
}

// unlock releases the lock by closing its descriptor: once every process
// sharing it has closed it, the session reads as ended.
func (l *sessionLock) unlock() error {
	if l == nil || l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	return err
}

// File is the open lock file, to hand to a detached child process.
func (l *sessionLock) File() *os.File { return l.file }
