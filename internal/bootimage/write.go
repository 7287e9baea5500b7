package bootimage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/bos-project/bos/internal/reason"
)

// fsyncCount counts the calls that wait for the disk (fsync, syncfs), so
// that a benchmark can show how many a node costs.
var fsyncCount atomic.Int64

// WriteNode writes a node's files into bootDir by name and, when mac is
// not empty, by MAC. When it returns nil they are in place and durable;
// when it fails, the error names the file and the step, and each file is
// either its old self or the new one, never a mix.
//
// Each file is staged beside its target, then a group commit makes the
// staged files of every WriteNode call in flight durable at once and
// renames them into place: at 10,000 nodes, a few disk flushes per batch
// instead of one per file.
//
// Concurrent calls must not write the same node or MAC (the staging name
// is fixed, see tempPath); different nodes and MACs are safe.
func WriteNode(bootDir, node, mac string, files NodeFiles) error {
	if err := checkNodeName(node); err != nil {
		return err
	}
	stems := []string{filepath.Join(bootDir, nodesDir, node)}
	if mac != "" {
		name, err := macFileName(mac)
		if err != nil {
			return reason.At("node "+node, err)
		}
		stems = append(stems, filepath.Join(bootDir, macDir, name))
	}
	req := &commitRequest{bootDir: bootDir, turn: make(chan bool, 1)}
	for _, stem := range stems {
		req.dirs = append(req.dirs, filepath.Dir(stem))
		for _, file := range []struct {
			path string
			data []byte
		}{{stem + ".json", files.Parameters}, {stem + ".ipxe", files.Script}} {
			createdDir, err := stage(file.path, file.data)
			if err != nil {
				discardStaged(req.files)
				return reason.At("node "+node, err)
			}
			if createdDir {
				// The new directory's own entry must be durable too.
				req.dirs = append(req.dirs, bootDir)
			}
			req.files = append(req.files, file.path)
		}
	}
	if err := commits.commit(req); err != nil {
		return reason.At("node "+node, err)
	}
	return nil
}

// writeError is err, met writing the boot file at path. Its reason
// (package reason) leaves out the path, a file of one node's, so that a
// full or read-only boot directory fails every node alike.
type writeError struct {
	path string
	err  error
}

func writeFailed(path string, err error) error { return &writeError{path: path, err: err} }

func (e *writeError) Error() string  { return "write " + e.path + ": " + e.err.Error() }
func (e *writeError) Unwrap() error  { return e.err }
func (e *writeError) Reason() string { return "write boot files: " + reason.Of(e.err) }

// tempPath is where path is staged: a fixed name, so that staging costs
// one open and a crash leaves at most one stray file per target, which
// the next write of that target replaces.
//
// A fixed name is safe because no two writers ever stage the same target
// at once: a node belongs to one session at a time (session.Store.Reserve
// refuses overlapping sessions, across processes), to one boot set of it
// (sessionrun refuses a node in two boot sets), and the engine runs
// a node's phases one after another, each from one goroutine, so one
// PrepareBoot per node is in flight. Node names and MACs are unique in an
// inventory (inventory.Load refuses duplicates of either).
func tempPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
}

// stage writes data to path's temporary file, creating path's directory
// when it is missing (createdDir). On systems where the group commit
// cannot flush a whole file system at once, it fsyncs the file itself.
func stage(path string, data []byte) (createdDir bool, err error) {
	tmp := tempPath(path)
	f, err := createTemp(tmp)
	if errors.Is(err, fs.ErrNotExist) {
		if err := mkdirAll(filepath.Dir(path)); err != nil {
			return false, writeFailed(path, fmt.Errorf("create directory: %w", err))
		}
		createdDir = true
		f, err = createTemp(tmp)
	}
	if err != nil {
		return false, writeFailed(path, err)
	}
	err = writeTemp(f, data)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(tmp)
		return false, writeFailed(path, err)
	}
	return createdDir, nil
}

// mkdirAll creates dir and its missing parents with mode 0755 whatever
// the umask, so that any HTTP server can reach the files.
func mkdirAll(dir string) error {
	var missing []string
	for at := dir; ; at = filepath.Dir(at) {
		if _, err := os.Stat(at); err == nil || at == filepath.Dir(at) {
			break
		}
		missing = append(missing, at)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], 0o755)
		if err == nil {
			err = os.Chmod(missing[i], 0o755)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// createTemp creates tmp with mode 0644. O_EXCL makes sure the file is
// new, so its mode is ours: one already there is a crash's leftover (no
// one else stages this target, see tempPath) and is removed.
func createTemp(tmp string) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	f, err := os.OpenFile(tmp, flags, 0o644)
	if !errors.Is(err, fs.ErrExist) {
		return f, err
	}
	if err := os.Remove(tmp); err != nil {
		return nil, fmt.Errorf("remove stale %s: %w", tmp, err)
	}
	return os.OpenFile(tmp, flags, 0o644)
}

func writeTemp(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := fixMode(f); err != nil {
		return err
	}
	if syncfsWorks() {
		return nil
	}
	fsyncCount.Add(1)
	return f.Sync()
}

// umaskNarrows caches whether the process umask takes bits off 0644
// (umaskUnknown until the first file is created): only then does each
// file need a chmod to be readable by the HTTP server. bos never changes
// its umask while it runs.
var umaskNarrows atomic.Int32

const (
	umaskUnknown int32 = iota
	umaskKeeps
	umaskTakes
)

func fixMode(f *os.File) error {
	switch umaskNarrows.Load() {
	case umaskKeeps:
		return nil
	case umaskTakes:
		return f.Chmod(0o644)
	}
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Mode().Perm() == 0o644 {
		umaskNarrows.Store(umaskKeeps)
		return nil
	}
	umaskNarrows.Store(umaskTakes)
	return f.Chmod(0o644)
}

// commitRequest is one WriteNode call's staged files waiting for a group
// commit.
type commitRequest struct {
	bootDir string
	files   []string // targets, each staged at tempPath(target)
	dirs    []string // directories whose entries the commit changes
	err     error
	// turn says, once: true, lead the next batch (this request is in it);
	// false, this request's batch is done and err is its outcome.
	turn chan bool
}

// discardStaged removes the staged files of targets; a failure leaves a
// stray file that the next write of its target replaces.
func discardStaged(targets []string) {
	for _, path := range targets {
		os.Remove(tempPath(path))
	}
}

// rename moves each staged file into place, stopping at the first that
// fails and discarding the rest: the files before it are new, the ones
// from it on are their old selves.
func (r *commitRequest) rename() error {
	for i, path := range r.files {
		if err := os.Rename(tempPath(path), path); err != nil {
			discardStaged(r.files[i:])
			return writeFailed(path, err)
		}
	}
	return nil
}

// committer runs group commits. Requests queue; when no batch is running,
// the arriving request's goroutine leads: it takes the whole queue as a
// batch, commits it, wakes its requests and hands the lead to the first
// request queued meanwhile. So no goroutine outlives its call, a batch
// forms while the previous one waits for the disk, and no caller leads
// more than the one batch that holds its own request.
type committer struct {
	mu      sync.Mutex
	queue   []*commitRequest
	running bool
}

var commits committer

// commit returns once r's batch is durable, or r's own error. It does not
// give up on a cancelled context: returning while the batch may still
// rename r's files would let the next write of the node stage over them.
func (c *committer) commit(r *commitRequest) error {
	c.mu.Lock()
	c.queue = append(c.queue, r)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if !lead && !<-r.turn {
		return r.err
	}
	c.mu.Lock()
	batch := c.queue
	c.queue = nil
	c.mu.Unlock()

	commitBatch(batch)
	for _, other := range batch {
		if other != r {
			other.turn <- false
		}
	}

	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].turn <- true
	} else {
		c.running = false
	}
	c.mu.Unlock()
	return r.err
}

// batchDir is a directory a batch touches, opened once per batch.
type batchDir struct {
	f       *os.File
	err     error // opening or syncing it
	touched bool  // a rename or mkdir of the batch changed it
}

// commitBatch makes every staged file of the batch durable (one syncfs per
// boot directory, or the fsyncs stage did), renames them into place, then
// fsyncs each directory whose entries changed once, so that the renames
// are durable too. Each request gets its own error.
func commitBatch(batch []*commitRequest) {
	dirs := map[string]*batchDir{}
	defer func() {
		for _, d := range dirs {
			if d.f != nil {
				d.f.Close()
			}
		}
	}()
	fsSynced := map[string]error{} // by boot directory
	for _, r := range batch {
		for _, path := range r.dirs {
			d, seen := dirs[path]
			if !seen {
				d = &batchDir{}
				d.f, d.err = os.Open(path)
				dirs[path] = d
			}
			if d.err != nil && r.err == nil {
				r.err = writeFailed(r.files[0], fmt.Errorf("open directory: %w", d.err))
			}
		}
		if r.err == nil && syncfsWorks() {
			err, seen := fsSynced[r.bootDir]
			if !seen {
				err = syncFileSystem(dirs[r.dirs[0]].f)
				fsSynced[r.bootDir] = err
			}
			if err != nil {
				r.err = writeFailed(r.files[0], fmt.Errorf("flush the file system of %s: %w", r.bootDir, err))
			}
		}
		if r.err != nil {
			discardStaged(r.files)
			continue
		}
		r.err = r.rename()
		for _, path := range r.dirs {
			dirs[path].touched = true
		}
	}
	for _, d := range dirs {
		if d.touched {
			fsyncCount.Add(1)
			d.err = d.f.Sync()
		}
	}
	for _, r := range batch {
		for _, path := range r.dirs {
			if d := dirs[path]; d.touched && d.err != nil && r.err == nil {
				r.err = writeFailed(r.files[0], fmt.Errorf("sync directory %s: %w", path, d.err))
			}
		}
	}
}
