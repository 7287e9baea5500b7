package session

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/bos-project/bos/internal/exitcode"
)

const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600

	sessionsDir     = "sessions"
	recordFile      = "session.json"
	rowFile         = "summary.json"
	eventsFile      = "events.jsonl"
	logFile         = "session.log"
	sessionLockFile = "lock"
	// cancelFile asks the process running a session to cancel it; see
	// RequestCancel.
	cancelFile = "cancel"
)

var (
	// ErrNotFound: no session has that ID or prefix.
	ErrNotFound = errors.New("session not found")
	// ErrRunning: the session's process is alive (it holds the session lock).
	ErrRunning = exitcode.New(exitcode.Conflict, "session is running")
	// ErrCorrupt: a state file cannot be parsed; the error names the file.
	ErrCorrupt = errors.New("corrupt state file")
	// ErrConflict: nodes are reserved by another running session.
	ErrConflict = exitcode.New(exitcode.Conflict, "nodes reserved by a running session")
	// ErrClosed: the recorder was closed.
	ErrClosed = errors.New("session recorder closed")
)

// AmbiguousError is a prefix that matches several sessions.
type AmbiguousError struct {
	Prefix     string
	Candidates []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("session prefix %q is ambiguous: matches %s; give more characters", e.Prefix, strings.Join(e.Candidates, ", "))
}

// CorruptError names the state file that could not be read.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt state file %s: %v (delete the session or restore the file)", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// Store is a state directory. It is safe for concurrent use; concurrent bos
// processes coordinate through file locks and atomic renames.
type Store struct {
	root string
	host string
	// tightenedFrom is the state directory's mode before Open made it private.
	tightenedFrom fs.FileMode

	mu sync.Mutex
	// held are session locks this process holds for sessions it created
	// (or acquired to resume) and has not yet handed to a Recorder.
	held map[string]*sessionLock

	// fsync makes a file or directory durable; nil means (*os.File).Sync.
	// Tests replace it to see the order of the calls durability rests on,
	// or to make them fail.
	fsync func(*os.File) error
}

// Open prepares the state directory dir: created 0700 when missing; an
// existing one that other users can enter is tightened to 0700 when it is
// this user's (see TightenedFrom) and refused (ErrUnsafeStateDir) when not.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", dir, err)
	}
	was, err := privatize(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Join(dir, sessionsDir), filepath.Join(dir, reservationsDir)} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("create state directory %s: %w", d, err)
		}
	}
	host, _ := os.Hostname() // only informational: liveness is decided by the lock
	return &Store{root: dir, host: host, tightenedFrom: was, held: make(map[string]*sessionLock)}, nil
}

// Root is the state directory itself.
func (s *Store) Root() string { return s.root }

// TightenedFrom is the mode the state directory had when Open made it
// private, for the caller to tell the user; 0 when Open changed nothing.
func (s *Store) TightenedFrom() fs.FileMode { return s.tightenedFrom }

// Dir is the directory of session id.
func (s *Store) Dir(id string) string { return filepath.Join(s.root, sessionsDir, id) }

// Close releases session locks still held for sessions created by this
// Store but never handed to a Recorder.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for id, lock := range s.held {
		errs = append(errs, lock.unlock())
		delete(s.held, id)
	}
	return errors.Join(errs...)
}

// Create makes a new session: it assigns an ID when rec has none, takes
// the session lock (held until a Recorder built on it is closed, or Close)
// and writes the record. Status defaults to running, StartTime to now.
func (s *Store) Create(rec *Record) error {
	if rec.ID == "" {
		rec.ID = uuid.NewString()
	}
	if err := uuid.Validate(rec.ID); err != nil {
		return fmt.Errorf("create session: id %q is not a UUID: %w", rec.ID, err)
	}
	if rec.Status == "" {
		rec.Status = StatusRunning
	}
	if rec.StartTime.IsZero() {
		rec.StartTime = time.Now()
	}
	// The session is built under a name list and resolve skip, then
	// renamed into place: a crash half-way leaves no session without a
	// record. The lock survives the rename (it is on the open file).
	dir := s.Dir(rec.ID)
	building := filepath.Join(s.root, sessionsDir, ".new-"+rec.ID)
	if err := os.Mkdir(building, dirMode); err != nil {
		return fmt.Errorf("create session %s: %w", rec.ID, err)
	}
	lock, err := tryLockSession(building)
	if err != nil || lock == nil {
		_ = os.RemoveAll(building)
		return fmt.Errorf("create session %s: take session lock: %w", rec.ID, cmp.Or(err, ErrRunning))
	}
	err = s.writeJSONAtomic(filepath.Join(building, recordFile), rec)
	if err == nil {
		err = s.writeJSONAtomic(filepath.Join(building, rowFile), rowOf(rec))
	}
	if err == nil {
		err = os.Rename(building, dir)
	}
	if err == nil {
		err = s.syncDir(filepath.Dir(dir))
	}
	if err != nil {
		_ = lock.unlock()
		_ = os.RemoveAll(building)
		return fmt.Errorf("create session %s: %w", rec.ID, err)
	}
	s.hold(rec.ID, lock)
	s.indexSaved(rec, filepath.Join(dir, rowFile))
	return nil
}

func (s *Store) hold(id string, lock *sessionLock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[id] = lock
}

// Acquire takes the lock of an existing session that no process runs, so
// this process may resume or finish it; it stays held until a Recorder
// built on it is closed, or Close. ErrRunning when a process holds it.
func (s *Store) Acquire(ctx context.Context, id string) error {
	lock, err := s.takeLock(ctx, id)
	if err != nil {
		return err
	}
	s.hold(id, lock)
	return nil
}

// AdoptLock takes over the session lock a parent process handed down as
// the open file f (a detached run): flock locks belong to the open file, so
// the lock was never free in between. It checks f really is that lock.
func (s *Store) AdoptLock(id string, f *os.File) error {
	want, err := os.Stat(lockPath(s.Dir(id)))
	if err != nil {
		return fmt.Errorf("session %s: adopt session lock: %w", id, err)
	}
	got, err := f.Stat()
	if err != nil || !os.SameFile(want, got) {
		return fmt.Errorf("session %s: adopt session lock: descriptor %d is not %s", id, f.Fd(), lockPath(s.Dir(id)))
	}
	// Re-locking an open file that already holds the lock is a no-op; if
	// it does not hold it, this fails rather than wait behind another run.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("session %s: adopt session lock: %w (%w)", id, err, ErrRunning)
	}
	s.hold(id, &sessionLock{file: f})
	return nil
}

// HeldLockFile is the open lock file of a session this Store holds, to pass
// to a child process that will run it (see AdoptLock).
func (s *Store) HeldLockFile(id string) (*os.File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lock, ok := s.held[id]
	if !ok {
		return nil, false
	}
	return lock.File(), true
}

// Unhold releases this Store's lock on session id, if it holds one.
func (s *Store) Unhold(id string) error {
	return s.popHeld(id).unlock()
}

// popHeld takes this Store's lock on session id out of its keeping, if it
// holds one.
func (s *Store) popHeld(id string) *sessionLock {
	s.mu.Lock()
	defer s.mu.Unlock()
	lock := s.held[id]
	delete(s.held, id)
	return lock
}

// Save atomically replaces the session's record, then its list row. A
// crash between the two leaves a stale row, which the next Save fixes. A
// record that is no longer running also goes into the list index.
func (s *Store) Save(rec *Record) error {
	dir := s.Dir(rec.ID)
	if err := s.writeJSONAtomic(filepath.Join(dir, recordFile), rec); err != nil {
		return fmt.Errorf("save session %s: %w", rec.ID, err)
	}
	rowPath := filepath.Join(dir, rowFile)
	if err := s.writeJSONAtomic(rowPath, rowOf(rec)); err != nil {
		return fmt.Errorf("save session %s: %w", rec.ID, err)
	}
	if rec.Status != StatusRunning {
		s.indexSaved(rec, rowPath)
	}
	return nil
}

// indexSaved adds the row just written to the list index, stamped with the
// file it is in.
func (s *Store) indexSaved(rec *Record, rowPath string) {
	entry := indexEntry{storedRow: rowOf(rec)}
	if info, err := os.Stat(rowPath); err == nil {
		entry.File = stampOf(info)
	}
	s.indexRow(entry)
}

// storedRow is summary.json: the list row plus what liveness checks need.
type storedRow struct {
	ListRow
	PID  int    `json:"pid,omitempty"`
	Host string `json:"host,omitempty"`
}

func rowOf(rec *Record) storedRow {
	return storedRow{
		ListRow: ListRow{
			ID: rec.ID, Template: rec.Template, Operation: rec.Operation, Status: rec.Status,
			StartTime: rec.StartTime, StopTime: rec.StopTime, Nodes: len(rec.Nodes),
			Succeeded: rec.Summary.Succeeded, Failed: rec.Summary.Failed, Warnings: rec.Summary.Warnings,
		},
		PID: rec.PID, Host: rec.Host,
	}
}

// writeJSONAtomic writes v as path: temp file in the same directory,
// fsync, rename over path, fsync the directory. Readers see the old or the
// new file, never a torn one, even across a crash.
func (s *Store) writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return s.writeFileAtomic(path, append(data, '\n'))
}

func (s *Store) writeFileAtomic(path string, data []byte) error {
	return s.replaceFile(path, data, true)
}

// replaceFile writes data to a temporary file and renames it over path, so
// readers see the old or the new file, never a torn one. durable adds the
// fsyncs that keep this true across a crash; a cache that is rebuilt when
// damaged can do without them.
func (s *Store) replaceFile(path string, data []byte, durable bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod keeps that true whatever the umask.
	if err = tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if durable {
		if err = s.sync(tmp); err != nil {
			return fmt.Errorf("write %s: fsync: %w", path, err)
		}
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return s.syncDir(dir)
}

// syncDir makes a rename or file creation in dir durable.
func (s *Store) syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := s.sync(d); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// sync is fsync(2) of f, through the hook tests may set.
func (s *Store) sync(f *os.File) error {
	if s.fsync != nil {
		return s.fsync(f)
	}
	return f.Sync()
}

// Get loads a session by ID or unique ID prefix. A running record whose
// process is gone reads as interrupted. A corrupt record is also noted in
// the list index, so list shows it without reading every record.
func (s *Store) Get(idOrPrefix string) (*Record, error) {
	id, err := s.resolve(idOrPrefix)
	if err != nil {
		return nil, err
	}
	rec, err := s.get(id)
	if corrupt := (*CorruptError)(nil); errors.As(err, &corrupt) {
		s.indexRow(corruptEntry(id, corrupt.Path, corrupt.Err))
	}
	return rec, err
}

func (s *Store) get(id string) (*Record, error) {
	path := filepath.Join(s.Dir(id), recordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &CorruptError{Path: path, Err: errors.New("missing")}
		}
		return nil, fmt.Errorf("read session %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	if rec.Status == StatusRunning && !s.alive(rec.ID, rec.PID, rec.Host) {
		rec.Status = StatusInterrupted
		if err := s.recoverInterrupted(&rec); err != nil {
			return nil, err
		}
	}
	if rec.Status == StatusRunning {
		// The record is saved when the session changes: one whose nodes all
		// wait has run for longer than its last save says.
		rec.Summary.Timing = timingAt(rec.StartTime, rec.StopTime, time.Now())
	}
	return &rec, nil
}

// resolve turns an ID or unique prefix into a session ID.
func (s *Store) resolve(idOrPrefix string) (string, error) {
	prefix := strings.ToLower(strings.TrimSpace(idOrPrefix))
	// Only UUID characters: a prefix never reaches the filesystem as a path.
	if prefix == "" || strings.Trim(prefix, "0123456789abcdef-") != "" {
		return "", fmt.Errorf("session %q: %w (an ID is a UUID or a unique prefix of one)", idOrPrefix, ErrNotFound)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(prefix), recordFile)); err == nil {
		return prefix, nil
	}
	ids, err := s.sessionIDs()
	if err != nil {
		return "", err
	}
	var matches []string
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			matches = append(matches, id)
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("session %q: %w", idOrPrefix, ErrNotFound)
	case 1:
		return matches[0], nil
	default:
		slices.Sort(matches)
		return "", &AmbiguousError{Prefix: idOrPrefix, Candidates: matches}
	}
}

// sessionIDs lists session directories; stray files and temp names are
// skipped.
func (s *Store) sessionIDs() ([]string, error) {
	dir := filepath.Join(s.root, sessionsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list sessions in %s: %w", dir, err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() && uuid.Validate(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// alive reports whether a process still runs session id. The session lock
// decides (robust against PID reuse); only a session without a lock file,
// written by something that never took one, falls back to its PID on this
// host.
func (s *Store) alive(id string, pid int, host string) bool {
	dir := s.Dir(id)
	if _, err := os.Stat(lockPath(dir)); err == nil {
		lock, err := tryLockSession(dir)
		if err != nil {
			return true // cannot tell: never call a live session dead
		}
		if lock != nil {
			_ = lock.unlock()
			return false
		}
		return true
	}
	if pid <= 0 || host != s.host {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Delete removes session id with its reservation. A session whose process
// is alive is refused with ErrRunning unless force: cancel it first.
func (s *Store) Delete(id string, force bool) error {
	dir := s.Dir(id)
	if uuid.Validate(id) != nil {
		return fmt.Errorf("delete session %q: %w (give the full ID)", id, ErrNotFound)
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("delete session %s: %w", id, ErrNotFound)
	}
	if !force && s.alive(id, 0, "") {
		return fmt.Errorf("delete session %s: %w (cancel it first, or force)", id, ErrRunning)
	}
	if err := s.Release(id); err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	// A forced delete of a session this Store created drops its lock too,
	// so the descriptor does not outlive the files.
	return s.popHeld(id).unlock()
}

// Running reports whether a process holds session id's lock.
func (s *Store) Running(id string) bool { return s.alive(id, 0, "") }

// RequestCancel asks the process running session id to cancel it: it
// writes sessions/<id>/cancel, which that process polls for (see
// CancelRequested). A file rather than a signal: it needs no PID (which
// may have been reused, or live on another host sharing the state
// directory), and a request made while the process is busy is not lost.
func (s *Store) RequestCancel(id string) error {
	if err := s.writeFileAtomic(filepath.Join(s.Dir(id), cancelFile), []byte("cancel requested\n")); err != nil {
		return fmt.Errorf("cancel session %s: %w", id, err)
	}
	return nil
}

// CancelRequested reports whether someone asked to cancel session id.
func (s *Store) CancelRequested(id string) bool {
	_, err := os.Stat(filepath.Join(s.Dir(id), cancelFile))
	return err == nil
}

// ClearCancelRequest drops a cancel request left by a process that died
// while cancelling, before the session is resumed.
func (s *Store) ClearCancelRequest(id string) error {
	err := os.Remove(filepath.Join(s.Dir(id), cancelFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("session %s: clear cancel request: %w", id, err)
	}
	return nil
}

// LogPath is the human log of session id (what BOA printed).
func (s *Store) LogPath(id string) string { return filepath.Join(s.Dir(id), logFile) }

// OpenLog opens session id's human log for appending.
func (s *Store) OpenLog(id string) (*os.File, error) {
	f, err := os.OpenFile(s.LogPath(id), os.O_WRONLY|os.O_CREATE|os.O_APPEND, fileMode)
	if err != nil {
		return nil, fmt.Errorf("session %s: open its log: %w", id, err)
	}
	return f, nil
}

// DeleteOlderThan deletes every session that started at least age before
// now and is not running. Interrupted sessions go too (nothing will resume
// them that late); corrupt ones, whose age is unknown, stay for a person
// to look at. It returns the deleted IDs; one failure does not stop the
// others.
func (s *Store) DeleteOlderThan(age time.Duration, now time.Time) ([]string, error) {
	rows, err := s.List(Filter{MinAge: age, Now: func() time.Time { return now }})
	if err != nil {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, row := range rows {
		if row.Status == StatusRunning || row.Status == StatusCorrupt {
			continue
		}
		if err := s.Delete(row.ID, false); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, row.ID)
	}
	return deleted, errors.Join(errs...)
}
