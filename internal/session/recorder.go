package session

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bos-project/bos/internal/engine"
)

const (
	// snapshotInterval bounds how stale session.json may be while a session
	// runs; events.jsonl is always current. Writing the snapshot of a
	// large session costs about 3.5 ms per 1,000 nodes, so the interval
	// grows by snapshotIntervalPerNode up to maxSnapshotInterval: a
	// 10,000-node session then spends ~1 % of a CPU on it, not 3.5 %.
	snapshotInterval        = time.Second
	snapshotIntervalPerNode = 500 * time.Microsecond
	maxSnapshotInterval     = 5 * time.Second
	// lockWait is how long NewRecorder waits for a session lock that a
	// list or reserve liveness probe may be holding for an instant.
	lockWait = 200 * time.Millisecond
)

// Recorder is the engine's engine.Recorder for one session: it keeps the
// status tree and makes every transition durable in events.jsonl. Record
// only queues a transition's line; a Sync, the snapshot tick or Finish
// writes every line queued so far with one write and one fsync (group
// commit), so 10,000 nodes do not cost 10,000 fsyncs, and a transition that
// precedes only reads costs no fsync of its own: it becomes durable with
// the next one that precedes an action (see engine.Recorder).
type Recorder struct {
	store    *Store
	lock     *sessionLock
	events   *os.File
	interval time.Duration
	// durable is the length of events.jsonl up to its last acknowledged
	// line; only the committer touches it once recording started.
	durable int64

	mu      sync.Mutex // guards everything below up to wake
	rec     Record     // metadata; the tree fills in the status
	tree    *tree
	dirty   bool // tree changed since the last snapshot
	pending []pendingLine
	// applied counts the lines of pending already applied to the tree:
	// Record only checks a transition, and whoever reads the tree next
	// applies it (see applyPendingLocked).
	applied int
	// queued numbers the lines queued so far, synced those durable;
	// nodeQueued is the number of each node's last line, which Sync
	// compares with synced to wait only when the node has a line to wait
	// for.
	queued, synced uint64
	nodeQueued     map[string]uint64
	closed         bool
	// failed is the state write that failed (see fail): from then on
	// nothing more is written but why the session stopped.
	failed error

	wake chan struct{} // capacity 1: "pending is not empty"
	stop chan struct{}
	done chan struct{}

	// snapshotMu orders snapshot writes so an older one never lands last.
	snapshotMu   sync.Mutex
	lastSnapshot time.Time
}

var _ engine.Recorder = (*Recorder)(nil)

// pendingLine is a transition waiting for the next group commit, or a
// barrier: someone waiting (on done) for every line queued before it to be
// durable. The committer encodes it: encoding/json on the caller's
// goroutine grew each of 10,000 waiting nodes' stacks from 4 to 8 KB.
type pendingLine struct {
	transition engine.Transition
	done       chan error // nil: a transition; no one waits for it
}

// NewRecorder starts recording session rec (already created) running plan.
// The tree starts with every node not_started in every phase of
// rec.Phases (the operation's PhasesRun(false) when empty); transitions already in
// events.jsonl are replayed on top, so resuming an interrupted session
// continues from its durable truth. It takes the session lock (from Create
// in this process, or afresh: ErrRunning when another process holds it)
// and writes a first snapshot. rec is copied; read progress with Snapshot.
func (s *Store) NewRecorder(ctx context.Context, rec *Record, plan engine.Plan) (*Recorder, error) {
	return s.newRecorder(ctx, rec, plan, snapshotIntervalFor(len(rec.Nodes)))
}

// snapshotIntervalFor is how often a session of nodes refreshes session.json.
func snapshotIntervalFor(nodes int) time.Duration {
	return min(max(snapshotInterval, time.Duration(nodes)*snapshotIntervalPerNode), maxSnapshotInterval)
}

func (s *Store) newRecorder(ctx context.Context, rec *Record, plan engine.Plan, interval time.Duration) (_ *Recorder, err error) {
	if plan.SessionID != "" && plan.SessionID != rec.ID {
		return nil, fmt.Errorf("record session %s: plan is for session %s", rec.ID, plan.SessionID)
	}
	operation, ok := engine.LookupOperation(plan.Operation)
	if !ok {
		return nil, fmt.Errorf("record session %s: unknown operation %q", rec.ID, plan.Operation)
	}
	phases := rec.Phases
	if len(phases) == 0 {
		phases = operation.PhasesRun(false)
	}
	lock, err := s.takeLock(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = lock.unlock()
		}
	}()
	r := &Recorder{
		store: s, lock: lock, interval: interval,
		rec:  *rec,
		tree: newTree(plan, phases), nodeQueued: make(map[string]uint64, len(rec.Nodes)),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	r.rec.Status, r.rec.StopTime = StatusRunning, nil
	r.rec.PID, r.rec.Host = os.Getpid(), s.host
	r.rec.Error, r.rec.Notes = "", nil // what a load found, not what this run does
	if r.events, r.durable, err = s.openEvents(filepath.Join(s.Dir(rec.ID), eventsFile), r.tree); err != nil {
		return nil, fmt.Errorf("record session %s: %w", rec.ID, err)
	}
	if err = s.reserveStopRoom(rec.ID); err == nil {
		err = r.snapshot()
	}
	if err != nil {
		_ = r.events.Close()
		return nil, err
	}
	go r.commitLoop()
	return r, nil
}

// takeLock is Store.takeLock retried for lockWait: a liveness probe from
// another process holds a free session lock for an instant.
func (s *Store) takeLock(ctx context.Context, id string) (*sessionLock, error) {
	if lock := s.popHeld(id); lock != nil {
		return lock, nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	lock, err := lockSessionWithin(waitCtx, s.Dir(id), lockRetryDelay)
	switch {
	case lock != nil:
		return lock, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("session %s: take session lock: %w", id, ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("session %s: take session lock: %w", id, err)
	}
	return nil, fmt.Errorf("session %s: %w (another process holds its lock)", id, ErrRunning)
}

// openEvents opens the append-only log, replays it into t, and cuts off a
// torn last line (a crash mid-append): that transition was never
// acknowledged, so the engine never acted on it.
func (s *Store) openEvents(path string, t *tree) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, fileMode)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	good, err := replay(path, f, t)
	if err == nil {
		err = f.Truncate(good)
	}
	if err == nil {
		err = s.syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return f, good, nil
}

// replay applies every complete line of f to t and returns the offset
// after the last complete line.
func replay(path string, f *os.File, t *tree) (int64, error) {
	reader := bufio.NewReader(f)
	var offset int64
	for lineNo := 1; ; lineNo++ {
		line, err := reader.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return offset, nil // a partial line here is the torn tail
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		var tr engine.Transition
		if err := json.Unmarshal(line, &tr); err != nil {
			return 0, &CorruptError{Path: fmt.Sprintf("%s:%d", path, lineNo), Err: err}
		}
		if err := t.apply(tr); err != nil {
			return 0, &CorruptError{Path: fmt.Sprintf("%s:%d", path, lineNo), Err: err}
		}
		offset += int64(len(line))
	}
}

// Record queues t for the tree (see applyPendingLocked) and its line for
// events.jsonl; it is durable once a Sync of its node returns. A transition the session
// cannot place (unknown boot set, node, phase or category) is refused
// before anything is written, and so is every transition once a write
// failed (see fail).
func (r *Recorder) Record(_ context.Context, t engine.Transition) error {
	if t.Time.IsZero() {
		t.Time = time.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.refuseLocked(&t); err != nil {
		return err
	}
	r.dirty = true
	r.queueLocked(&t)
	return nil
}

// refuseLocked says why Record refuses t, if it does; r.mu must be held.
// It is apart from Record, as place is from move, to keep Record's frame
// small on the engine's node goroutines.
func (r *Recorder) refuseLocked(t *engine.Transition) error {
	switch {
	case r.closed:
		return fmt.Errorf("record node %s: %w", t.Node, ErrClosed)
	case r.failed != nil:
		return fmt.Errorf("record node %s: %w", t.Node, r.failed)
	}
	if _, _, err := r.tree.place(t); err != nil {
		return fmt.Errorf("record session %s: %w", r.rec.ID, err)
	}
	return nil
}

// applyPendingLocked applies to the tree the transitions queued since it
// last ran; r.mu must be held. It runs on the goroutine that reads the
// tree (the committer, a snapshot, a progress display), not in Record,
// which the engine calls on a node's goroutine: applying there took a node
// waiting in its shutdown from 4 to 8 KB of stack, which a goroutine keeps
// (26 → 40 MB of stacks at 5,000 nodes).
func (r *Recorder) applyPendingLocked() {
	for _, line := range r.pending[r.applied:] {
		if line.done == nil {
			// Checked by Record: place cannot fail.
			bs, ps, _ := r.tree.place(&line.transition)
			r.tree.move(bs, ps, line.transition)
		}
	}
	r.applied = len(r.pending)
}

// queueLocked queues t's line for the next group commit without waking
// the committer; r.mu must be held.
func (r *Recorder) queueLocked(t *engine.Transition) {
	r.pending = append(r.pending, pendingLine{transition: *t})
	r.queued++
	r.nodeQueued[t.Node] = r.queued
}

// Sync returns once every transition of node recorded so far is durable,
// at once when it already is. If ctx ends first Sync returns its error;
// the transitions are still written.
func (r *Recorder) Sync(ctx context.Context, node string) error {
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		return fmt.Errorf("sync node %s: %w", node, ErrClosed)
	case r.failed != nil:
		r.mu.Unlock()
		return fmt.Errorf("sync node %s: %w", node, r.failed)
	case r.nodeQueued[node] <= r.synced:
		r.mu.Unlock()
		return nil
	}
	done := r.barrierLocked()
	r.mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("sync node %s: %w", node, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sync node %s: %w", node, ctx.Err())
	}
}

// barrierLocked queues a barrier and wakes the committer; r.mu must be
// held. The returned channel says when every line queued before the
// barrier is durable, or why not.
func (r *Recorder) barrierLocked() <-chan error {
	done := make(chan error, 1)
	r.pending = append(r.pending, pendingLine{done: done})
	select {
	case r.wake <- struct{}{}:
	default: // already signalled: the committer will take this line too
	}
	return done
}

func (r *Recorder) commitLoop() {
	defer close(r.done)
	ticker := time.NewTicker(r.interval)
	defer ticker.Stop()
	for {
		select {
		case <-r.wake:
			r.commit()
		case <-ticker.C:
			// The lines no action waited for become durable at least this
			// often, and session.json never shows what events.jsonl lacks
			// for longer than this.
			r.commit()
			r.snapshotIfDue()
		case <-r.stop:
			r.commit()
			return
		}
	}
}

// commit writes every pending line with one write and one fsync, then
// releases the barriers' waiters. Lines queued meanwhile form the next
// batch.
func (r *Recorder) commit() {
	r.mu.Lock()
	r.applyPendingLocked()
	batch := r.pending
	r.pending, r.applied = nil, 0
	queued := r.queued
	err := r.failed
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	for _, p := range batch {
		if p.done == nil && err == nil {
			if encodeErr := encoder.Encode(p.transition); encodeErr != nil {
				// No one waits for this line: the session stops at its
				// durable state rather than go on without it.
				err = fmt.Errorf("encode transition of node %s: %w", p.transition.Node, encodeErr)
				r.fail(err)
			}
		}
	}
	// A batch of barriers alone has nothing to sync: the lines they wait
	// for were in earlier batches, synced or failed before this one.
	if err == nil && buf.Len() > 0 {
		err = r.writeAndSync(buf.Bytes())
	}
	if err == nil {
		r.mu.Lock()
		r.synced = queued
		r.mu.Unlock()
	}
	for _, p := range batch {
		if p.done != nil {
			p.done <- err
		}
	}
	r.snapshotIfDue()
}

// writeAndSync appends data to events.jsonl and fsyncs it. If either
// fails, the recorder stops writing (see fail) and cuts the file back to
// its last acknowledged line: a short write would otherwise leave half a
// line that the next append turns into a corrupt line in the middle.
func (r *Recorder) writeAndSync(data []byte) error {
	path := r.events.Name()
	_, err := r.events.Write(data)
	if err != nil {
		err = fmt.Errorf("append %s: %w", path, err)
	}
	if err == nil {
		if err = r.store.sync(r.events); err != nil {
			err = fmt.Errorf("fsync %s: %w", path, err)
		}
	}
	if err != nil {
		r.fail(err)
		// Freeing space needs none; if even this fails, the tail is a torn
		// line, which a load ignores and a resume cuts off.
		_ = r.events.Truncate(r.durable)
		return err
	}
	r.durable += int64(len(data))
	return nil
}

// fail stops the recorder writing after a state write failed: the engine
// stops acting (a Record error is fatal to the session), and whatever the
// recorder would write next could contradict events.jsonl, which stays
// the truth a load and a resume go by.
func (r *Recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = err
	}
}

// snapshotIfDue rewrites session.json when the tree changed and the last
// snapshot is older than the interval. A failed snapshot is retried on the
// next tick: events.jsonl, not the snapshot, is what durability rests on.
func (r *Recorder) snapshotIfDue() {
	r.snapshotMu.Lock()
	due := time.Since(r.lastSnapshot) >= r.interval
	r.snapshotMu.Unlock()
	r.mu.Lock()
	due = due && r.dirty
	r.mu.Unlock()
	if due {
		_ = r.snapshot()
	}
}

// snapshot writes the current record and list row atomically.
func (r *Recorder) snapshot() error {
	return r.writeSnapshot(func(*Record) {})
}

// writeSnapshot builds the record (letting adjust change it under the
// lock) and saves it; snapshotMu keeps saves in build order.
func (r *Recorder) writeSnapshot(adjust func(*Record)) error {
	r.snapshotMu.Lock()
	defer r.snapshotMu.Unlock()
	r.mu.Lock()
	adjust(&r.rec)
	rec := r.buildLocked()
	r.dirty = false
	r.mu.Unlock()
	if err := r.store.Save(&rec); err != nil {
		r.mu.Lock()
		r.dirty = true
		r.mu.Unlock()
		return err
	}
	r.lastSnapshot = time.Now()
	return nil
}

// buildLocked materialises the record; r.mu must be held. The copy shares
// nothing mutable with the recorder.
func (r *Recorder) buildLocked() Record {
	r.applyPendingLocked()
	rec := r.rec
	rec.Nodes = slices.Clone(r.rec.Nodes)
	rec.TemplateCopy = slices.Clone(r.rec.TemplateCopy)
	rec.Phases = r.tree.phaseNames()
	r.tree.fill(&rec, time.Now())
	return rec
}

// Snapshot returns a copy of the record as it stands, for progress display.
func (r *Recorder) Snapshot() Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buildLocked()
}

// Finish flushes pending transitions, stamps the stop time and writes the
// final record. The status is status when that is cancelled or
// interrupted; otherwise complete when every node succeeded or was
// excluded, failed when any node failed or never finished its phases.
//
// If a state write failed (a full disk) the session is not finished: it
// is left to read as interrupted, and Finish returns a *StoppedError.
func (r *Recorder) Finish(status Status) error {
	err := r.flush()
	if errors.Is(err, ErrClosed) {
		return fmt.Errorf("finish session %s: %w", r.rec.ID, err)
	}
	if err != nil {
		return r.halt(err)
	}
	err = r.writeSnapshot(func(rec *Record) {
		stop := time.Now()
		rec.StopTime = &stop
		if status != StatusCancelled && status != StatusInterrupted {
			status = StatusComplete
			if sum := r.buildLocked().Summary; sum.Failed > 0 || sum.Pending > 0 {
				status = StatusFailed
			}
		}
		rec.Status = status
	})
	if err != nil {
		return r.halt(err)
	}
	return nil
}

// flush waits until every transition queued so far is durable.
func (r *Recorder) flush() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	done := r.barrierLocked()
	r.mu.Unlock()
	return <-done
}

// Close stops the committer after writing what is pending, closes the log
// and releases the session lock: from then on the session reads as
// finished, or as interrupted if Finish was never called.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	r.store.releaseStopRoom(r.rec.ID)
	return errors.Join(r.events.Close(), r.lock.unlock())
}

// Progress is where every started node stands according to the durable
// transitions replayed so far: what engine.Plan.Resume needs to continue an
// interrupted session without repeating finished work.
func (r *Recorder) Progress() map[string]engine.NodeProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applyPendingLocked()
	return r.tree.progress()
}

// ReasonCancelled is the reason recorded for every node a cancelled
// session left unfinished; the node keeps its category (not_started or
// in_progress), as the BOS v1 tree has no cancelled category.
const ReasonCancelled = "cancelled"

// MarkCancelled records, for every node that has not finished, that the
// session stopped it where it stood (reason ReasonCancelled), all in one
// group commit. It runs after the engine stopped and waits for the
// commit whatever ctx does.
func (r *Recorder) MarkCancelled() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return fmt.Errorf("mark session %s cancelled: %w", r.rec.ID, ErrClosed)
	}
	r.applyPendingLocked()
	for _, t := range r.tree.unfinished(ReasonCancelled, time.Now()) {
		if err := r.tree.apply(t); err != nil {
			r.mu.Unlock()
			return fmt.Errorf("mark session %s cancelled: node %s: %w", r.rec.ID, t.Node, err)
		}
		r.queueLocked(&t)
	}
	r.applied = len(r.pending)
	r.dirty = true
	committed := r.barrierLocked()
	r.mu.Unlock()
	if err := <-committed; err != nil {
		return fmt.Errorf("mark session %s cancelled: %w", r.rec.ID, err)
	}
	return nil
}
