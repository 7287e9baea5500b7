package session

import (
	"cmp"
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

	"github.com/gofrs/flock"
	"github.com/google/uuid"
)

const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600

	sessionsDir     = "sessions"
	recordFile      = "session.json"
	rowFile         = "summary.json"
	eventsFile      = "events.jsonl"
	sessionLockFile = "lock"
)

var (
	// ErrNotFound: no session has that ID or prefix.
	ErrNotFound = errors.New("session not found")
	// ErrRunning: the session's process is alive (it holds the session lock).
	ErrRunning = errors.New("session is running")
	// ErrCorrupt: a state file cannot be parsed; the error names the file.
	ErrCorrupt = errors.New("corrupt state file")
	// ErrConflict: nodes are reserved by another running session.
	ErrConflict = errors.New("nodes reserved by a running session")
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

	mu sync.Mutex
	// held are session locks this process holds for sessions it created
	// and has not yet handed to a Recorder.
	held map[string]*flock.Flock
}

// Open prepares the state directory dir (created 0700 when missing).
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, sessionsDir), filepath.Join(dir, reservationsDir)} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("create state directory %s: %w", d, err)
		}
	}
	host, _ := os.Hostname() // only informational: liveness is decided by the lock
	return &Store{root: dir, host: host, held: make(map[string]*flock.Flock)}, nil
}

// Dir is the directory of session id.
func (s *Store) Dir(id string) string { return filepath.Join(s.root, sessionsDir, id) }

// Close releases session locks still held for sessions created by this
// Store but never handed to a Recorder.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for id, lock := range s.held {
		errs = append(errs, lock.Unlock())
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
	dir := s.Dir(rec.ID)
	if err := os.Mkdir(dir, dirMode); err != nil {
		return fmt.Errorf("create session %s: %w", rec.ID, err)
	}
	lock := newSessionLock(dir)
	if locked, err := lock.TryLock(); err != nil || !locked {
		return fmt.Errorf("create session %s: take session lock: %w", rec.ID, cmp.Or(err, ErrRunning))
	}
	s.mu.Lock()
	s.held[rec.ID] = lock
	s.mu.Unlock()
	return s.Save(rec)
}

// popHeld takes this Store's lock on session id out of its keeping, if it
// holds one.
func (s *Store) popHeld(id string) *flock.Flock {
	s.mu.Lock()
	defer s.mu.Unlock()
	lock := s.held[id]
	delete(s.held, id)
	return lock
}

func newSessionLock(dir string) *flock.Flock {
	return flock.New(filepath.Join(dir, sessionLockFile), flock.SetPermissions(fileMode))
}

// Save atomically replaces the session's record, then its list row. A
// crash between the two leaves a stale row, which the next Save fixes.
func (s *Store) Save(rec *Record) error {
	dir := s.Dir(rec.ID)
	if err := writeJSONAtomic(filepath.Join(dir, recordFile), rec); err != nil {
		return fmt.Errorf("save session %s: %w", rec.ID, err)
	}
	if err := writeJSONAtomic(filepath.Join(dir, rowFile), rowOf(rec)); err != nil {
		return fmt.Errorf("save session %s: %w", rec.ID, err)
	}
	return nil
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
			Succeeded: rec.Summary.Succeeded, Failed: rec.Summary.Failed,
		},
		PID: rec.PID, Host: rec.Host,
	}
}

// writeJSONAtomic writes v as path: temp file in the same directory,
// fsync, rename over path, fsync the directory. Readers see the old or the
// new file, never a torn one, even across a crash.
func writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return writeFileAtomic(path, append(data, '\n'))
}

func writeFileAtomic(path string, data []byte) (err error) {
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
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or file creation in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// Get loads a session by ID or unique ID prefix. A running record whose
// process is gone reads as interrupted.
func (s *Store) Get(idOrPrefix string) (*Record, error) {
	id, err := s.resolve(idOrPrefix)
	if err != nil {
		return nil, err
	}
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
	lockPath := filepath.Join(dir, sessionLockFile)
	if _, err := os.Stat(lockPath); err == nil {
		lock := newSessionLock(dir)
		locked, err := lock.TryLock()
		if err != nil {
			return true // cannot tell: never call a live session dead
		}
		if locked {
			_ = lock.Unlock()
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
	lock := s.popHeld(id)
	if lock != nil {
		return lock.Unlock()
	}
	return nil
}
