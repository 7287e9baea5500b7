package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

const (
	// indexFile lists one storedRow per line, appended whenever a session
	// is created or stops running; the last line of an id wins. List reads
	// it instead of 10,000 summary.json files. It is a cache: every line
	// can be rebuilt from the sessions' own files, so it is never fsynced
	// and any damage only costs one slow list.
	indexFile = "index.jsonl"
	indexLock = "index.lock"
	// indexLockWait bounds how long an index update waits for another
	// process; giving up only leaves the index a little stale.
	indexLockWait = 2 * time.Second
	// indexSlack is how many superseded lines the index may carry beyond
	// twice the number of sessions before List compacts it.
	indexSlack = 64
)

// indexEntry is one index line: a stored list row and the stamp of the
// summary.json it was read from. List trusts a finished row only while
// that file still has the same stamp, so a damaged or replaced summary is
// re-read (and shows as corrupt) at the cost of one stat, not one read.
type indexEntry struct {
	storedRow
	File fileStamp `json:"file"`
}

// fileStamp identifies one version of a file.
type fileStamp struct {
	Inode   uint64 `json:"ino,omitempty"`
	Size    int64  `json:"size,omitempty"`
	ModNano int64  `json:"mtime_ns,omitempty"`
}

func stampOf(info fs.FileInfo) fileStamp {
	stamp := fileStamp{Size: info.Size(), ModNano: info.ModTime().UnixNano()}
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		stamp.Inode = sys.Ino
	}
	return stamp
}

// current reports whether the session's summary.json is still the file
// this entry was read from.
func (s *Store) current(e indexEntry) bool {
	if e.File == (fileStamp{}) {
		return false
	}
	info, err := os.Stat(filepath.Join(s.Dir(e.ID), rowFile))
	return err == nil && stampOf(info) == e.File
}

// withIndexLock runs fn while holding the index lock across processes.
func (s *Store) withIndexLock(fn func(path string) error) error {
	lock := flock.New(filepath.Join(s.root, indexLock), flock.SetPermissions(fileMode))
	ctx, cancel := context.WithTimeout(context.Background(), indexLockWait)
	defer cancel()
	if locked, err := lock.TryLockContext(ctx, lockRetryDelay); !locked {
		return fmt.Errorf("lock %s: %w", lock.Path(), errors.Join(err, ctx.Err()))
	}
	defer lock.Unlock()
	return fn(filepath.Join(s.root, indexFile))
}

// indexRow appends rows to the index. Failure is not reported: the index
// is a cache that List repairs from the sessions' own files.
func (s *Store) indexRow(rows ...indexEntry) {
	if len(rows) == 0 {
		return
	}
	data, err := encodeIndex(rows)
	if err != nil {
		return
	}
	_ = s.withIndexLock(func(path string) error {
		// Opened under the lock: a compaction may have just replaced it.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, fileMode)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return errors.Join(err, f.Close())
	})
}

// rewriteIndex replaces the index with exactly rows, without fsync (see
// indexFile): a crash can at worst leave it damaged, and then rebuilt.
func (s *Store) rewriteIndex(rows []indexEntry) {
	data, err := encodeIndex(rows)
	if err != nil {
		return
	}
	_ = s.withIndexLock(func(path string) error { return s.replaceFile(path, data, false) })
}

// encodeIndex returns rows as index lines, encoded in chunks at once (a
// rebuild encodes every session).
func encodeIndex(rows []indexEntry) ([]byte, error) {
	lines := make([][]byte, len(rows))
	failed := make([]error, len(rows))
	inChunks(len(rows), func(from, to int) {
		for i := from; i < to; i++ {
			lines[i], failed[i] = json.Marshal(rows[i])
		}
	})
	if err := errors.Join(failed...); err != nil {
		return nil, err
	}
	// Sized once: growing a buffer to the 3 MB of 10,000 rows by doubling
	// cost a fifth of a list that rebuilds the index.
	size := 0
	for _, line := range lines {
		size += len(line) + 1
	}
	data := make([]byte, 0, size)
	for _, line := range lines {
		data = append(append(data, line...), '\n')
	}
	return data, nil
}

// readIndex loads the index: the last row of every id and the number of
// lines. ok is false when the index is missing or has a damaged line (the
// caller rebuilds it); a torn last line is only an append a crash cut
// short, and is skipped.
func (s *Store) readIndex() (rows map[string]indexEntry, lines int, ok bool) {
	data, err := os.ReadFile(filepath.Join(s.root, indexFile))
	if err != nil {
		return nil, 0, false
	}
	if tail := bytes.LastIndexByte(data, '\n'); tail+1 < len(data) {
		data = data[:tail+1] // torn tail
	}
	// Decoding is most of a warm list's work: split the lines into chunks
	// decoded at once, then merge them in file order so the last line of an
	// id still wins.
	starts := lineStarts(data)
	entries := make([]indexEntry, len(starts))
	damaged := make([]bool, len(starts))
	inChunks(len(starts), func(from, to int) {
		for i := from; i < to; i++ {
			line := data[starts[i] : len(data)-1]
			if i+1 < len(starts) {
				line = data[starts[i] : starts[i+1]-1]
			}
			if err := json.Unmarshal(line, &entries[i]); err != nil || entries[i].ID == "" {
				damaged[i] = true
			}
		}
	})
	rows = make(map[string]indexEntry, len(entries))
	for i, entry := range entries {
		if damaged[i] {
			return nil, 0, false
		}
		rows[entry.ID] = entry
	}
	return rows, len(entries), true
}

// lineStarts returns the offset of every line of data, which ends in a
// newline (or is empty).
func lineStarts(data []byte) []int {
	starts := make([]int, 0, bytes.Count(data, []byte{'\n'}))
	for at := 0; at < len(data); {
		starts = append(starts, at)
		at += bytes.IndexByte(data[at:], '\n') + 1
	}
	return starts
}

// readRow reads one session's stored list row, falling back to its full
// record when summary.json is missing (a crash right after the record was
// first written). A file that cannot be read gives a corrupt row naming it.
func (s *Store) readRow(id string) indexEntry {
	path := filepath.Join(s.Dir(id), rowFile)
	data, stamp, err := readStamped(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s.rowFromRecord(id)
	}
	if err != nil {
		return corruptEntry(id, path, err)
	}
	var stored storedRow
	if err := json.Unmarshal(data, &stored); err != nil {
		return corruptEntry(id, path, err)
	}
	if stored.ID != id {
		return corruptEntry(id, path, fmt.Errorf("names session %q", stored.ID))
	}
	return indexEntry{storedRow: stored, File: stamp}
}

// readStamped reads a file and stamps the version it read. A rebuild reads
// 10,000 of them, so it uses the system calls directly: os.Open registers
// each file with the poller (one failing epoll_ctl and four fcntl calls,
// twice the syscalls of the read itself) and os.File adds a finalizer; and
// io.ReadAll grows its buffer and reads once more to see the end. Summaries
// are only ever replaced whole (temp file and rename), so the file open
// here keeps the size fstat gives: one read of that many bytes is all.
func readStamped(path string) ([]byte, fileStamp, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for errors.Is(err, syscall.EINTR) {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fileStamp{}, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fileStamp{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	data := make([]byte, st.Size)
	for read := 0; read < len(data); {
		n, err := syscall.Read(fd, data[read:])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return nil, fileStamp{}, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return data[:read], fileStamp{}, &fs.PathError{Op: "read", Path: path, Err: io.ErrUnexpectedEOF}
		}
		read += n
	}
	return data, fileStamp{Inode: st.Ino, Size: st.Size, ModNano: time.Unix(st.Mtim.Unix()).UnixNano()}, nil
}

// recheckCorrupt re-reads a session the index says is corrupt: its record
// (which the index cannot vouch for) and then its row, so a restored file
// shows again.
func (s *Store) recheckCorrupt(id string) indexEntry {
	if _, err := s.get(id); err != nil {
		return corruptEntryOf(id, s.Dir(id), err)
	}
	return s.readRow(id)
}

func (s *Store) rowFromRecord(id string) indexEntry {
	rec, err := s.get(id)
	if err != nil {
		return corruptEntryOf(id, s.Dir(id), err)
	}
	return indexEntry{storedRow: rowOf(rec)}
}

// corruptEntryOf names the corrupt file err is about, or dir.
func corruptEntryOf(id, dir string, err error) indexEntry {
	var corrupt *CorruptError
	if errors.As(err, &corrupt) {
		return corruptEntry(id, corrupt.Path, corrupt.Err)
	}
	return corruptEntry(id, dir, err)
}

func corruptEntry(id, path string, err error) indexEntry {
	return indexEntry{storedRow: storedRow{ListRow: ListRow{ID: id, Status: StatusCorrupt, Error: fmt.Sprintf("%s: %v", path, err)}}}
}
