package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// What a session leaves behind when its state cannot be written (a full
// disk), and how a load reads it.
//
// The engine stops acting once a transition cannot be made durable, and it
// records every action before sending it, so events.jsonl names every node
// touched and its last durable state. session.json, a snapshot up to a few
// seconds behind, is not rewritten (there may be no room for it): a load
// of a session whose process is gone rebuilds the status tree from
// events.jsonl instead, which also corrects the snapshot a kill -9 leaves.
// The only file written is why the session stopped, into room reserved
// when recording started, so that even a full disk has room for it.
const (
	// stoppedFile holds why the session stopped short; Get reads it into
	// Record.Error.
	stoppedFile = "stopped"
	// reserveFile is the room kept for stoppedFile while a session runs;
	// it is deleted just before stoppedFile is written.
	reserveFile = ".reserve"
	// reserveSize is far more than the message (a few hundred bytes) and
	// its temp file need, in blocks of up to 8 KiB.
	reserveSize = 16 << 10
)

// StoppedError is why a session stopped before its end: its state could
// not be written. The session reads as interrupted, and says so.
type StoppedError struct {
	ID  string
	Err error
}

func (e *StoppedError) Error() string {
	problem, fix := "its state could not be written", "fix that"
	if errors.Is(e.Err, syscall.ENOSPC) || errors.Is(e.Err, syscall.EDQUOT) {
		problem, fix = "the disk of its state directory is full", "free space"
	}
	return fmt.Sprintf("session %s stopped: %s (%v); no node was acted on after that, "+
		"'bos session describe %s' shows where each one stands; %s, then run 'bos session resume %s'",
		e.ID, problem, e.Err, e.ID, fix, e.ID)
}

func (e *StoppedError) Unwrap() error { return e.Err }

// halt ends a session whose state write failed with cause: nothing more is
// written but why, into the room reserved for it.
func (r *Recorder) halt(cause error) error {
	r.fail(cause)
	r.mu.Lock()
	stopped := &StoppedError{ID: r.rec.ID, Err: r.failed} // the first failure is the cause
	r.mu.Unlock()
	r.store.releaseStopRoom(r.rec.ID)
	if err := r.store.writeFileAtomic(filepath.Join(r.store.Dir(r.rec.ID), stoppedFile), []byte(stopped.Error()+"\n")); err != nil {
		return fmt.Errorf("%w (recording this in the session failed too: %v)", stopped, err)
	}
	return stopped
}

// reserveStopRoom sets room aside for stoppedFile before session id
// runs, and drops the reason an earlier run stopped for: this run takes
// over. The room is real blocks, not a sparse file, so it counts against
// the disk.
func (s *Store) reserveStopRoom(id string) error {
	dir := s.Dir(id)
	if err := os.WriteFile(filepath.Join(dir, reserveFile), make([]byte, reserveSize), fileMode); err != nil {
		return fmt.Errorf("session %s: reserve room in its state directory: %w", id, err)
	}
	if err := os.Remove(filepath.Join(dir, stoppedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("session %s: clear why it stopped before: %w", id, err)
	}
	return nil
}

// releaseStopRoom frees the room reserveStopRoom set aside. Failing
// leaves 16 KiB, removed with the session.
func (s *Store) releaseStopRoom(id string) {
	_ = os.Remove(filepath.Join(s.Dir(id), reserveFile))
}

// recoverInterrupted brings the record of a session whose process is gone
// up to its durable truth: the status tree is rebuilt from events.jsonl,
// the snapshot kept only for its metadata and shape. A torn last line (an
// append cut short, never acknowledged, so never acted on) is ignored with
// a note; a damaged line before it is a *CorruptError naming file and line.
func (s *Store) recoverInterrupted(rec *Record) error {
	dir := s.Dir(rec.ID)
	path := filepath.Join(dir, eventsFile)
	t := treeOf(rec)
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist): // stopped before recording anything
	case err != nil:
		return fmt.Errorf("read session %s: %w", rec.ID, err)
	default:
		defer f.Close()
		good, err := replay(path, f, t)
		if err != nil {
			return err
		}
		if info, err := f.Stat(); err == nil && info.Size() > good {
			rec.Notes = append(rec.Notes, fmt.Sprintf("%s: ignored its torn last line (%d bytes at offset %d): "+
				"an append cut short, never acknowledged, so never acted on", path, info.Size()-good, good))
		}
	}
	asOf := rec.StartTime
	for _, state := range t.latest {
		if state.Time.After(asOf) {
			asOf = state.Time
		}
	}
	t.fill(rec, asOf)
	if reason, err := os.ReadFile(filepath.Join(dir, stoppedFile)); err == nil {
		rec.Error = strings.TrimSpace(string(reason))
	}
	return nil
}
