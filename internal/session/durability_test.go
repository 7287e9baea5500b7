package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/power"
)

// syncSpy stands in for a store's fsync: it notes every file and
// directory synced, in order, with its size and what the watched files
// held at that moment, and fails the syncs fail says to.
type syncSpy struct {
	mu    sync.Mutex
	watch []string
	fail  func(name string) error
	seen  []syncSeen
}

type syncSeen struct {
	name string
	size int64
	held map[string]string // watched path → its content then
}

func spyOnSyncs(s *Store) *syncSpy {
	spy := &syncSpy{}
	s.fsync = spy.sync
	return spy
}

func (spy *syncSpy) sync(f *os.File) error {
	spy.mu.Lock()
	defer spy.mu.Unlock()
	seen := syncSeen{name: f.Name(), held: map[string]string{}}
	if info, err := f.Stat(); err == nil {
		seen.size = info.Size()
	}
	for _, path := range spy.watch {
		if data, err := os.ReadFile(path); err == nil {
			seen.held[path] = string(data)
		}
	}
	spy.seen = append(spy.seen, seen)
	if spy.fail != nil {
		if err := spy.fail(f.Name()); err != nil {
			return err
		}
	}
	return f.Sync()
}

func (spy *syncSpy) watchFiles(paths ...string) {
	spy.mu.Lock()
	defer spy.mu.Unlock()
	spy.watch, spy.seen = paths, nil
}

func (spy *syncSpy) failWith(fail func(name string) error) {
	spy.mu.Lock()
	defer spy.mu.Unlock()
	spy.fail = fail
}

func (spy *syncSpy) calls() []syncSeen {
	spy.mu.Lock()
	defer spy.mu.Unlock()
	return append([]syncSeen(nil), spy.seen...)
}

// sizes are the sizes events.jsonl had at each of its fsyncs.
func (spy *syncSpy) sizes() []int64 {
	var out []int64
	for _, seen := range spy.calls() {
		if filepath.Base(seen.name) == eventsFile {
			out = append(out, seen.size)
		}
	}
	return out
}

// isTempOf reports whether name is a temporary file replaceFile writes
// before renaming it over path.
func isTempOf(name, path string) bool {
	return strings.HasPrefix(name, filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"))
}

// replacedFile is a state file that is replaced whole, and how to write
// a new version of it.
type replacedFile struct {
	name string
	// setup creates what the file belongs to and returns the file and a
	// function writing a version of it that holds value.
	setup func(t *testing.T, s *Store) (path string, write func(value string) error)
}

func replacedFiles() []replacedFile {
	saved := func(file string) func(t *testing.T, s *Store) (string, func(string) error) {
		return func(t *testing.T, s *Store) (string, func(string) error) {
			rec := &Record{Template: "first", Operation: "boot"}
			require.NoError(t, s.Create(rec))
			return filepath.Join(s.Dir(rec.ID), file), func(value string) error {
				rec.Template = value
				return s.Save(rec)
			}
		}
	}
	return []replacedFile{
		{name: "session.json", setup: saved(recordFile)},
		{name: "summary.json", setup: saved(rowFile)},
		{name: "reservation", setup: func(t *testing.T, s *Store) (string, func(string) error) {
			rec := &Record{}
			require.NoError(t, s.Create(rec))
			return filepath.Join(s.root, reservationsDir, rec.ID), func(value string) error {
				return s.Reserve(t.Context(), rec.ID, []string{value})
			}
		}},
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// A file rewritten in place would change under a hard link to it, and a
// write failing half-way would leave it torn: both would lose the old
// content a crash must be able to fall back on.
func TestStateFilesAreReplacedNotRewritten(t *testing.T) {
	for _, tc := range replacedFiles() {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			spy := spyOnSyncs(s)
			path, write := tc.setup(t, s)
			require.NoError(t, write("node-old"))
			old := readString(t, path)
			link := filepath.Join(t.TempDir(), "old")
			require.NoError(t, os.Link(path, link))

			require.NoError(t, write("node-new"))
			assert.Equal(t, old, readString(t, link), "the old file is left as it was")
			current := readString(t, path)
			assert.Contains(t, current, "node-new")

			spy.failWith(func(name string) error {
				if isTempOf(name, path) {
					return syscall.EIO
				}
				return nil
			})
			require.ErrorIs(t, write("node-lost"), syscall.EIO)
			assert.Equal(t, current, readString(t, path), "a failed write leaves the last version")
			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			for _, e := range entries {
				assert.False(t, isTempOf(filepath.Join(filepath.Dir(path), e.Name()), path), "temp file %s left behind", e.Name())
			}
		})
	}
}

// Durable replacement: the new version is fsynced before it is renamed
// over the old one, and the directory after, so that a crash leaves the
// old or the new version, never an empty or missing file.
func TestStateFilesAreSyncedThenRenamedThenDirectorySynced(t *testing.T) {
	for _, tc := range replacedFiles() {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			spy := spyOnSyncs(s)
			path, write := tc.setup(t, s)
			require.NoError(t, write("node-old"))
			old := readString(t, path)
			spy.watchFiles(path)
			require.NoError(t, write("node-new"))
			updated := readString(t, path)
			calls := spy.calls()

			fileSync := -1
			for i, c := range calls {
				if isTempOf(c.name, path) {
					fileSync = i
					break
				}
			}
			require.GreaterOrEqual(t, fileSync, 0, "the new version is fsynced: %v", calls)
			assert.Equal(t, int64(len(updated)), calls[fileSync].size, "fsynced once written")
			assert.Equal(t, old, calls[fileSync].held[path], "fsynced before the rename")
			dirSync := -1
			for i, c := range calls[fileSync+1:] {
				if c.name == filepath.Dir(path) {
					dirSync = fileSync + 1 + i
					break
				}
			}
			require.GreaterOrEqual(t, dirSync, 0, "the directory is fsynced after the file: %v", calls)
			assert.Equal(t, updated, calls[dirSync].held[path], "the directory is fsynced after the rename")
		})
	}
}

// A transition that precedes only reads is not fsynced on its own: it
// becomes durable with the next one a node's action waits for (Sync),
// in one write and one fsync of events.jsonl.
func TestOnlyAnActionWaitsForAnFsync(t *testing.T) {
	s := openStore(t)
	syncs := spyOnSyncs(s)
	r, rec := startRecorder(t, s, rebootPlan())
	events := filepath.Join(s.Dir(rec.ID), eventsFile)
	intent := engine.Transition{BootSet: "compute", Node: "n1", Phase: engine.PhaseShutdown, Category: engine.InProgress, Action: power.GracefulOff}
	sent := intent
	sent.Sent = true
	for round, lines := range [][]engine.Transition{
		{tr("compute", "n1", engine.PhaseShutdown, engine.InProgress, ""), tr("compute", "n2", engine.PhaseShutdown, engine.InProgress, ""), intent},
		{sent, tr("compute", "n1", engine.PhaseShutdown, engine.Succeeded, ""), tr("compute", "n1", engine.PhaseBoot, engine.InProgress, "")},
	} {
		for _, line := range lines {
			require.NoError(t, r.Record(t.Context(), line))
		}
		assert.Len(t, syncs.sizes(), round, "round %d: recorded, not yet fsynced", round)
		require.NoError(t, r.Sync(t.Context(), "n1"))
		sizes := syncs.sizes()
		require.Len(t, sizes, round+1, "round %d: one fsync for the lines before the action", round)
		info, err := os.Stat(events)
		require.NoError(t, err)
		assert.Equal(t, info.Size(), sizes[round], "round %d: every line was written before the fsync", round)
		require.NoError(t, r.Sync(t.Context(), "n2"))
		assert.Len(t, syncs.sizes(), round+1, "round %d: n2's lines were made durable with n1's", round)
	}
	assert.Len(t, readEvents(t, s, rec.ID), 6)
}

// recordIntentAndOff records that n1 was sent a graceful shutdown and is
// off, and that n2 was sent one: what a full disk may interrupt.
func recordIntentAndOff(t *testing.T, r *Recorder) {
	t.Helper()
	for _, transition := range []engine.Transition{
		tr("compute", "n1", engine.PhaseShutdown, engine.InProgress, ""),
		{BootSet: "compute", Node: "n1", Phase: engine.PhaseShutdown, Category: engine.InProgress, Action: power.GracefulOff},
		tr("compute", "n1", engine.PhaseShutdown, engine.Succeeded, ""),
		tr("compute", "n2", engine.PhaseShutdown, engine.InProgress, ""),
		{BootSet: "compute", Node: "n2", Phase: engine.PhaseShutdown, Category: engine.InProgress, Action: power.GracefulOff},
	} {
		require.NoError(t, r.Record(t.Context(), transition))
	}
	require.NoError(t, r.Sync(t.Context(), "n2"))
}

func TestFullDiskStopsTheSessionAtItsDurableState(t *testing.T) {
	s := openStore(t)
	spy := spyOnSyncs(s)
	r, rec := startRecorder(t, s, rebootPlan())
	dir := s.Dir(rec.ID)
	assert.FileExists(t, filepath.Join(dir, reserveFile), "room is kept to say why the session stopped")
	recordIntentAndOff(t, r)
	events := filepath.Join(dir, eventsFile)
	acknowledged := readString(t, events)

	spy.failWith(func(name string) error {
		if name == events {
			return syscall.ENOSPC
		}
		return nil
	})
	require.NoError(t, r.Record(t.Context(), tr("compute", "n2", engine.PhaseShutdown, engine.Succeeded, "")))
	require.ErrorIs(t, r.Sync(t.Context(), "n2"), syscall.ENOSPC)
	assert.Equal(t, acknowledged, readString(t, events), "the unacknowledged line is cut off")
	spy.failWith(nil)
	require.ErrorIs(t, r.Record(t.Context(), tr("compute", "n3", engine.PhaseShutdown, engine.InProgress, "")), syscall.ENOSPC,
		"nothing is recorded after a failed write, even once there is room again")
	assert.Equal(t, acknowledged, readString(t, events))

	finishErr := r.Finish(StatusComplete)
	var stopped *StoppedError
	require.ErrorAs(t, finishErr, &stopped)
	require.ErrorIs(t, finishErr, syscall.ENOSPC)
	assert.Contains(t, finishErr.Error(), "disk of its state directory is full")
	assert.Contains(t, finishErr.Error(), "free space, then run 'bos session resume "+rec.ID+"'")
	require.NoError(t, r.Close())
	assert.NoFileExists(t, filepath.Join(dir, reserveFile))

	got, err := s.Get(rec.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusInterrupted, got.Status)
	assert.Equal(t, finishErr.Error(), got.Error)
	assert.Equal(t, map[engine.Phase]map[engine.Category][]string{
		engine.PhaseShutdown: {engine.Succeeded: {"n1"}, engine.InProgress: {"n2"}, engine.NotStarted: {"n3"}},
		engine.PhaseBoot:     {engine.NotStarted: {"n1", "n2", "n3"}},
	}, categories(*got, "compute"), "every node as events.jsonl has it, the one sent a shutdown in progress")
	assert.Equal(t, power.GracefulOff, got.NodeStates["n2"].Action)
	assert.Equal(t, 4, got.Summary.Pending)

	// Resuming takes over: the reason goes, the room comes back.
	resumed, err := s.NewRecorder(t.Context(), got, engine.Plan{SessionID: rec.ID, Operation: engine.Reboot, BootSets: rebootPlan().BootSets})
	require.NoError(t, err)
	t.Cleanup(func() { _ = resumed.Close() })
	assert.NoFileExists(t, filepath.Join(dir, stoppedFile))
	assert.FileExists(t, filepath.Join(dir, reserveFile))
	assert.Equal(t, engine.NodeProgress{Phase: engine.PhaseShutdown, Action: power.GracefulOff}, resumed.Progress()["n2"], "intended, never confirmed sent")
	snap := resumed.Snapshot()
	assert.Empty(t, snap.Error)
}

// diedAfter leaves a session whose process recorded transitions and died
// before its next snapshot: session.json still has every node not started.
func diedAfter(t *testing.T, record func(*Recorder)) (*Store, *Record) {
	t.Helper()
	s := openStore(t)
	rec := &Record{Template: "compute", Operation: string(engine.Reboot), Nodes: []string{"n1", "n2", "n3", "u1"}}
	require.NoError(t, s.Create(rec))
	plan := rebootPlan()
	plan.SessionID = rec.ID
	r, err := s.newRecorder(t.Context(), rec, plan, time.Hour)
	require.NoError(t, err)
	record(r)
	require.NoError(t, r.Close())
	return s, rec
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(text)
	require.NoError(t, errors.Join(err, f.Close()))
}

func TestLoadOfInterruptedSessionFollowsEvents(t *testing.T) {
	wantShutdown := map[engine.Category][]string{engine.Succeeded: {"n1"}, engine.InProgress: {"n2"}, engine.NotStarted: {"n3"}}
	tests := []struct {
		name string
		// damage changes events.jsonl after the process died.
		damage   func(t *testing.T, path string)
		wantNote string
		// corruptLine is the line a load must name as damaged; 0: none.
		corruptLine int
	}{
		{name: "killed between snapshots", damage: func(*testing.T, string) {}},
		{
			name:     "torn last line",
			damage:   func(t *testing.T, path string) { appendTo(t, path, `{"boot_set":"compute","node":"n3","pha`) },
			wantNote: "ignored its torn last line (38 bytes at offset ",
		},
		{
			name: "damaged line in the middle",
			damage: func(t *testing.T, path string) {
				data := readString(t, path)
				first := strings.Index(data, "\n") + 1
				require.NoError(t, os.WriteFile(path, []byte(data[:first]+"{not json\n"+data[first:]), 0o600))
			},
			corruptLine: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := diedAfter(t, func(r *Recorder) { recordIntentAndOff(t, r) })
			events := filepath.Join(s.Dir(rec.ID), eventsFile)
			tc.damage(t, events)

			got, err := s.Get(rec.ID)
			if tc.corruptLine > 0 {
				require.ErrorIs(t, err, ErrCorrupt)
				assert.Contains(t, err.Error(), fmt.Sprintf("%s:%d", events, tc.corruptLine))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, StatusInterrupted, got.Status)
			assert.Equal(t, wantShutdown, categories(*got, "compute")[engine.PhaseShutdown])
			assert.Equal(t, power.GracefulOff, got.NodeStates["n2"].Action)
			assert.Empty(t, got.Error, "nothing said why: the process was killed")
			if tc.wantNote == "" {
				assert.Empty(t, got.Notes)
				return
			}
			require.Len(t, got.Notes, 1)
			assert.Contains(t, got.Notes[0], events+": "+tc.wantNote)
		})
	}
}

// untouchable is a BMC and configuration runner that notes every call
// and fails it, so that a node wrongly acted on fails at once rather than
// wait out real timeouts.
type untouchable struct {
	mu    sync.Mutex
	calls []string
}

func (u *untouchable) note(call string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls = append(u.calls, call)
}

func (u *untouchable) PowerState(_ context.Context, node string) (power.State, error) {
	u.note("read " + node)
	return "", errUntouchable
}

func (u *untouchable) Reset(_ context.Context, node string, action power.Action) (string, error) {
	u.note(fmt.Sprintf("reset %s %s", node, action))
	return "", errUntouchable
}

func (u *untouchable) Configure(_ context.Context, req engine.ConfigureRequest) (map[string]error, error) {
	u.note(fmt.Sprintf("configure %v", req.Nodes))
	return nil, errUntouchable
}

var errUntouchable = errors.New("this node must not be acted on")

// A node that failed or was excluded in its last phase is finished: what
// a resume replays of it must make the engine leave it alone, whatever the
// operation.
func TestResumeLeavesFinishedNodesAlone(t *testing.T) {
	for _, op := range []engine.Operation{engine.Shutdown, engine.Boot, engine.Reboot, engine.Configure} {
		for _, category := range []engine.Category{engine.Failed, engine.Excluded} {
			t.Run(string(op)+"/"+string(category), func(t *testing.T) {
				s := openStore(t)
				plan := engine.Plan{Operation: op, BootSets: []engine.BootSetPlan{{Name: "compute", Nodes: []string{"n1"}, Configuration: "site"}}}
				rec := &Record{Operation: string(op), Phases: allPhases(op), Nodes: []string{"n1"}}
				require.NoError(t, s.Create(rec))
				plan.SessionID = rec.ID
				r, err := s.NewRecorder(t.Context(), rec, plan)
				require.NoError(t, err)
				phases := r.Snapshot().Phases
				for i, phase := range phases {
					require.NoError(t, r.Record(t.Context(), tr("compute", "n1", phase, engine.InProgress, "")))
					final := engine.Succeeded
					if i == len(phases)-1 {
						final = category
					}
					require.NoError(t, r.Record(t.Context(), tr("compute", "n1", phase, final, "before the interruption")))
				}
				require.NoError(t, r.Close())

				got, err := s.Get(rec.ID)
				require.NoError(t, err)
				resumed, err := s.NewRecorder(t.Context(), got, plan)
				require.NoError(t, err)
				t.Cleanup(func() { _ = resumed.Close() })
				plan.Resume = resumed.Progress()
				events := filepath.Join(s.Dir(rec.ID), eventsFile)
				before := readString(t, events)
				fleet := &untouchable{}
				engine := &engine.Engine{BMC: fleet, Recorder: resumed, Configure: fleet}
				result, err := engine.Run(t.Context(), plan)
				require.NoError(t, err)
				assert.Empty(t, fleet.calls, "no read, reset or configuration")
				assert.Equal(t, before, readString(t, events), "no transition")
				assert.Empty(t, result.Nodes)
			})
		}
	}
}
