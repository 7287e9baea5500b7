package session

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/power"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startRecorder creates a session for plan and records it.
func startRecorder(t *testing.T, s *Store, plan engine.Plan) (*Recorder, *Record) {
	t.Helper()
	rec := &Record{Template: "compute", Operation: string(plan.Operation), Pace: string(engine.Independent)}
	for _, bs := range plan.BootSets {
		rec.Nodes = append(rec.Nodes, bs.Nodes...)
	}
	require.NoError(t, s.Create(rec))
	plan.SessionID = rec.ID
	r, err := s.NewRecorder(t.Context(), rec, plan)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r, rec
}

func rebootPlan() engine.Plan {
	return engine.Plan{Operation: engine.Reboot, BootSets: []engine.BootSetPlan{
		{Name: "compute", Nodes: []string{"n1", "n2", "n3"}},
		{Name: "uan", Nodes: []string{"u1"}},
	}}
}

func tr(bootSet, node string, phase engine.Phase, category engine.Category, reason string) engine.Transition {
	return engine.Transition{BootSet: bootSet, Node: node, Phase: phase, Category: category, Reason: reason}
}

// categories maps phase → category → nodes for one boot set of rec,
// leaving out empty categories.
func categories(rec Record, bootSet string) map[engine.Phase]map[engine.Category][]string {
	out := map[engine.Phase]map[engine.Category][]string{}
	for _, bs := range rec.BootSets {
		if bs.Name != bootSet {
			continue
		}
		for _, ps := range bs.Phases {
			out[ps.Name] = map[engine.Category][]string{}
			for _, c := range ps.Categories {
				if len(c.NodeList) > 0 {
					out[ps.Name][c.Name] = c.NodeList
				}
			}
		}
	}
	return out
}

func TestRecorderAppliesTransitions(t *testing.T) {
	const (
		sd = engine.PhaseShutdown
		bt = engine.PhaseBoot
	)
	tests := []struct {
		name        string
		transitions []engine.Transition
		want        map[engine.Phase]map[engine.Category][]string
		wantErrors  map[string][]string
	}{
		{
			name: "initially every node not started in every phase",
			want: map[engine.Phase]map[engine.Category][]string{
				sd: {engine.NotStarted: {"n1", "n2", "n3"}},
				bt: {engine.NotStarted: {"n1", "n2", "n3"}},
			},
			wantErrors: map[string][]string{},
		},
		{
			name: "nodes move independently",
			transitions: []engine.Transition{
				tr("compute", "n1", sd, engine.InProgress, ""),
				tr("compute", "n1", sd, engine.Succeeded, ""),
				tr("compute", "n1", bt, engine.InProgress, ""),
				tr("compute", "n2", sd, engine.InProgress, ""),
			},
			want: map[engine.Phase]map[engine.Category][]string{
				sd: {engine.Succeeded: {"n1"}, engine.InProgress: {"n2"}, engine.NotStarted: {"n3"}},
				bt: {engine.InProgress: {"n1"}, engine.NotStarted: {"n2", "n3"}},
			},
			wantErrors: map[string][]string{},
		},
		{
			name: "a failed or excluded node leaves the later phases",
			transitions: []engine.Transition{
				tr("compute", "n2", sd, engine.Failed, "power off not confirmed after 480s"),
				tr("compute", "n3", sd, engine.Excluded, "disabled"),
			},
			want: map[engine.Phase]map[engine.Category][]string{
				sd: {engine.NotStarted: {"n1"}, engine.Failed: {"n2"}, engine.Excluded: {"n3"}},
				bt: {engine.NotStarted: {"n1"}, engine.Excluded: {"n2", "n3"}},
			},
			wantErrors: map[string][]string{"power off not confirmed after 480s": {"n2"}},
		},
		{
			name: "a failure without a reason still lists the node",
			transitions: []engine.Transition{
				tr("compute", "n1", sd, engine.Succeeded, ""),
				tr("compute", "n1", bt, engine.Failed, ""),
			},
			want: map[engine.Phase]map[engine.Category][]string{
				sd: {engine.Succeeded: {"n1"}, engine.NotStarted: {"n2", "n3"}},
				bt: {engine.Failed: {"n1"}, engine.NotStarted: {"n2", "n3"}},
			},
			wantErrors: map[string][]string{"failed (no reason given)": {"n1"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := startRecorder(t, openStore(t), rebootPlan())
			for _, transition := range tc.transitions {
				require.NoError(t, r.Record(t.Context(), transition))
			}
			snap := r.Snapshot()
			assert.Equal(t, tc.want, categories(snap, "compute"))
			assert.Equal(t, map[engine.Phase]map[engine.Category][]string{
				sd: {engine.NotStarted: {"u1"}}, bt: {engine.NotStarted: {"u1"}},
			}, categories(snap, "uan"), "the other boot set is untouched")
			assert.Equal(t, tc.wantErrors, snap.BootSets[0].Errors)
		})
	}
}

func TestRecorderKeepsLastActionAndReasonPerNode(t *testing.T) {
	r, _ := startRecorder(t, openStore(t), rebootPlan())
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, r.Record(t.Context(), engine.Transition{
		Time: at, BootSet: "compute", Node: "n1", Phase: engine.PhaseShutdown,
		Category: engine.InProgress, Action: power.ForceOff, Reason: "graceful shutdown timed out",
	}))
	assert.Equal(t, NodeState{
		BootSet: "compute", Phase: engine.PhaseShutdown, Category: engine.InProgress,
		Action: power.ForceOff, Reason: "graceful shutdown timed out", Time: at,
	}, r.Snapshot().NodeStates["n1"])
}

func TestRecorderRefusesTransitionsOutsideThePlan(t *testing.T) {
	tests := []struct {
		name       string
		transition engine.Transition
	}{
		{name: "unknown boot set", transition: tr("gpu", "n1", engine.PhaseBoot, engine.Succeeded, "")},
		{name: "node of another boot set", transition: tr("uan", "n1", engine.PhaseBoot, engine.Succeeded, "")},
		{name: "unknown phase", transition: tr("compute", "n1", "dance", engine.Succeeded, "")},
		{name: "unknown category", transition: tr("compute", "n1", engine.PhaseBoot, "lost", "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			r, rec := startRecorder(t, s, rebootPlan())
			require.Error(t, r.Record(t.Context(), tc.transition))
			assert.Empty(t, readEvents(t, s, rec.ID), "nothing written for a refused transition")
		})
	}
}

func TestRecorderAddsAnUnplannedPhaseInOrder(t *testing.T) {
	plan := rebootPlan()
	r, _ := startRecorder(t, openStore(t), plan)
	require.NoError(t, r.Record(t.Context(), tr("uan", "u1", engine.PhaseConfigure, engine.InProgress, "")))
	snap := r.Snapshot()
	assert.Equal(t, []engine.Phase{engine.PhaseShutdown, engine.PhaseBoot, engine.PhaseConfigure}, snap.Phases)
	assert.Equal(t, map[engine.Category][]string{engine.InProgress: {"u1"}}, categories(snap, "uan")[engine.PhaseConfigure])
}

func TestFinishStatusAndSummary(t *testing.T) {
	plan := engine.Plan{Operation: engine.Shutdown, BootSets: []engine.BootSetPlan{
		{Name: "a", Nodes: []string{"n1", "n2", "n3", "n4"}},
	}}
	tests := []struct {
		name          string
		outcomes      map[string]engine.Category // nodes not named stay not started
		given         Status
		want          Status
		wantSucceeded float64
		wantFailed    float64
	}{
		{
			name:     "all succeeded or excluded",
			outcomes: map[string]engine.Category{"n1": engine.Succeeded, "n2": engine.Succeeded, "n3": engine.Succeeded, "n4": engine.Excluded},
			given:    StatusComplete, want: StatusComplete, wantSucceeded: 75,
		},
		{
			name:     "one failed",
			outcomes: map[string]engine.Category{"n1": engine.Succeeded, "n2": engine.Succeeded, "n3": engine.Failed, "n4": engine.Succeeded},
			given:    StatusComplete, want: StatusFailed, wantSucceeded: 75, wantFailed: 25,
		},
		{
			name:     "a node never finished",
			outcomes: map[string]engine.Category{"n1": engine.Succeeded, "n2": engine.Succeeded, "n3": engine.Succeeded},
			given:    StatusComplete, want: StatusFailed, wantSucceeded: 75,
		},
		{
			name:     "cancelled stays cancelled",
			outcomes: map[string]engine.Category{"n1": engine.Succeeded},
			given:    StatusCancelled, want: StatusCancelled, wantSucceeded: 25,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			r, rec := startRecorder(t, s, plan)
			for node, category := range tc.outcomes {
				require.NoError(t, r.Record(t.Context(), tr("a", node, engine.PhaseShutdown, category, "why")))
			}
			require.NoError(t, r.Finish(tc.given))
			require.NoError(t, r.Close())

			got, err := s.Get(rec.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Status, "a closed session is not read as interrupted")
			require.NotNil(t, got.StopTime)
			assert.Equal(t, got.StopTime, got.Summary.Timing.EndTime)
			assert.Equal(t, 4, got.Summary.Total)
			assert.InDelta(t, tc.wantSucceeded, got.Summary.PercentSuccessful, 0.001)
			assert.InDelta(t, tc.wantFailed, got.Summary.PercentFailed, 0.001)
			assert.Equal(t, got.Summary.Failed, got.ErrorCount)

			rows, err := s.List(Filter{})
			require.NoError(t, err)
			require.Len(t, rows, 1)
			assert.Equal(t, tc.want, rows[0].Status)
			assert.Equal(t, got.Summary.Succeeded, rows[0].Succeeded)
			assert.Equal(t, got.Summary.Failed, rows[0].Failed)
		})
	}
}

func TestSummaryCountsDistinctNodes(t *testing.T) {
	plan := engine.Plan{Operation: engine.Boot, BootSets: []engine.BootSetPlan{
		{Name: "a", Nodes: []string{"n1", "n2"}},
		{Name: "b", Nodes: []string{"n2", "n3"}},
	}}
	r, _ := startRecorder(t, openStore(t), plan)
	for _, transition := range []engine.Transition{
		tr("a", "n1", engine.PhaseBoot, engine.Succeeded, ""),
		tr("a", "n2", engine.PhaseBoot, engine.Succeeded, ""),
		tr("b", "n2", engine.PhaseBoot, engine.Failed, "boot timed out"),
		tr("b", "n3", engine.PhaseBoot, engine.Failed, "boot timed out"),
	} {
		require.NoError(t, r.Record(t.Context(), transition))
	}
	sum := r.Snapshot().Summary
	assert.Equal(t, 3, sum.Total)
	assert.Equal(t, 1, sum.Succeeded)
	assert.Equal(t, 2, sum.Failed, "n2 failed in one boot set, so it failed")
	assert.InDelta(t, 66.67, sum.PercentFailed, 0.001)
	assert.Equal(t, ErrorSummaryEntry{Count: 2, Nodes: []string{"n2", "n3"}}, sum.ErrorSummary["boot timed out"])
}

func manyNodesPlan(n int) engine.Plan {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("nid%05d", i)
	}
	return engine.Plan{Operation: engine.Shutdown, BootSets: []engine.BootSetPlan{{Name: "compute", Nodes: nodes}}}
}

// recordAll records one transition per node from its own goroutine and
// waits for it to be durable, as the engine does before an action.
func recordAll(t *testing.T, r *Recorder, plan engine.Plan) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(plan.BootSets[0].Nodes))
	for _, node := range plan.BootSets[0].Nodes {
		wg.Go(func() {
			errs <- errors.Join(r.Record(t.Context(), tr("compute", node, engine.PhaseShutdown, engine.Succeeded, "")), r.Sync(t.Context(), node))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestConcurrentRecordIsDurableAndGroupCommitted(t *testing.T) {
	const nodes = 1000
	s := openStore(t)
	syncs := spyOnSyncs(s)
	plan := manyNodesPlan(nodes)
	r, rec := startRecorder(t, s, plan)

	// Hold the committer after its first batch so the other Records queue
	// up behind it, as they do behind a slow fsync on a real disk.
	r.snapshotMu.Lock()
	go func() {
		assert.Eventually(t, func() bool {
			r.mu.Lock()
			queued := 0
			for _, line := range r.pending {
				if line.done == nil {
					queued++
				}
			}
			r.mu.Unlock()
			return queued+len(readEvents(t, s, rec.ID)) == nodes
		}, 10*time.Second, time.Millisecond)
		r.snapshotMu.Unlock()
	}()
	recordAll(t, r, plan)

	events := readEvents(t, s, rec.ID)
	require.Len(t, events, nodes, "every acknowledged transition is in events.jsonl")
	seen := map[string]bool{}
	for _, e := range events {
		seen[e.Node] = true
	}
	assert.Len(t, seen, nodes)
	sizes := syncs.sizes()
	assert.NotEmpty(t, sizes, "events.jsonl is fsynced")
	assert.LessOrEqual(t, len(sizes), 2, "queued lines share one fsync")
	assert.IsIncreasing(t, sizes, "every fsync makes new lines durable")
	assert.Equal(t, map[engine.Category][]string{engine.Succeeded: plan.BootSets[0].Nodes},
		categories(r.Snapshot(), "compute")[engine.PhaseShutdown])
}

func TestConcurrentRecordWithoutStalls(t *testing.T) {
	const nodes = 1000
	s := openStore(t)
	syncs := spyOnSyncs(s)
	plan := manyNodesPlan(nodes)
	r, rec := startRecorder(t, s, plan)
	recordAll(t, r, plan)
	assert.Len(t, readEvents(t, s, rec.ID), nodes)
	assert.LessOrEqual(t, len(syncs.sizes()), nodes)
}

func readEvents(t *testing.T, s *Store, id string) []engine.Transition {
	t.Helper()
	f, err := os.Open(filepath.Join(s.Dir(id), eventsFile))
	require.NoError(t, err)
	defer f.Close()
	var events []engine.Transition
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		var e engine.Transition
		require.NoError(t, json.Unmarshal(scanner.Bytes(), &e), "line %q", scanner.Text())
		events = append(events, e)
	}
	require.NoError(t, scanner.Err())
	return events
}

func TestResumeReplaysEventsAndDropsTornTail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	first, err := Open(dir)
	require.NoError(t, err)
	plan := rebootPlan()
	r, rec := startRecorder(t, first, plan)
	require.NoError(t, r.Record(t.Context(), tr("compute", "n1", engine.PhaseShutdown, engine.Succeeded, "")))
	require.NoError(t, r.Record(t.Context(), tr("compute", "n2", engine.PhaseShutdown, engine.Failed, "BMC unreachable")))
	require.NoError(t, r.Close()) // the process dies without Finish

	events := filepath.Join(first.Dir(rec.ID), eventsFile)
	f, err := os.OpenFile(events, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"boot_set":"compute","node":"n3","pha`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	second, err := Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Close() })
	got, err := second.Get(rec.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusInterrupted, got.Status)

	plan.SessionID = rec.ID
	resumed, err := second.NewRecorder(t.Context(), got, plan)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resumed.Close() })
	assert.Equal(t, map[engine.Phase]map[engine.Category][]string{
		engine.PhaseShutdown: {engine.Succeeded: {"n1"}, engine.Failed: {"n2"}, engine.NotStarted: {"n3"}},
		engine.PhaseBoot:     {engine.NotStarted: {"n1", "n3"}, engine.Excluded: {"n2"}},
	}, categories(resumed.Snapshot(), "compute"))

	require.NoError(t, resumed.Record(t.Context(), tr("compute", "n3", engine.PhaseShutdown, engine.InProgress, "")))
	require.NoError(t, resumed.Sync(t.Context(), "n3"))
	assert.Len(t, readEvents(t, second, rec.ID), 3, "the torn line is gone and appends stay line-aligned")
	got, err = second.Get(rec.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusRunning, got.Status)
}

func TestResumeRefusedWhileRunning(t *testing.T) {
	s := openStore(t)
	plan := rebootPlan()
	_, rec := startRecorder(t, s, plan)
	other, err := Open(s.root)
	require.NoError(t, err)
	plan.SessionID = rec.ID
	_, err = other.NewRecorder(t.Context(), rec, plan)
	require.ErrorIs(t, err, ErrRunning)
}

func TestCorruptEventLineIsReported(t *testing.T) {
	s := openStore(t)
	plan := rebootPlan()
	r, rec := startRecorder(t, s, plan)
	require.NoError(t, r.Close())
	events := filepath.Join(s.Dir(rec.ID), eventsFile)
	require.NoError(t, os.WriteFile(events, []byte("{broken\n"), 0o600))
	plan.SessionID = rec.ID
	_, err := s.NewRecorder(t.Context(), rec, plan)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), events+":1")
}

func TestSnapshotWrittenPeriodically(t *testing.T) {
	s := openStore(t)
	rec := &Record{Template: "t", Operation: string(engine.Reboot)}
	require.NoError(t, s.Create(rec))
	r, err := s.newRecorder(t.Context(), rec, rebootPlan(), time.Millisecond)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	require.NoError(t, r.Record(t.Context(), tr("uan", "u1", engine.PhaseShutdown, engine.Failed, "stuck")))
	require.Eventually(t, func() bool {
		got, err := s.Get(rec.ID)
		return err == nil && got.ErrorCount == 1
	}, 10*time.Second, time.Millisecond)
}

func TestRecordAfterCloseFails(t *testing.T) {
	r, _ := startRecorder(t, openStore(t), rebootPlan())
	require.NoError(t, r.Close())
	require.ErrorIs(t, r.Record(t.Context(), tr("uan", "u1", engine.PhaseShutdown, engine.Succeeded, "")), ErrClosed)
	require.ErrorIs(t, r.Finish(StatusComplete), ErrClosed)
}

// TestConfigurePhaseOnlyWhereConfigured: a boot set without a configuration
// has no configure phase after boot, so its booted nodes complete the
// session instead of staying pending; the configure operation lists the
// phase for every boot set (the engine excludes the unconfigured ones).
func TestConfigurePhaseOnlyWhereConfigured(t *testing.T) {
	tests := []struct {
		op      engine.Operation
		compute []engine.Phase
		uan     []engine.Phase
	}{
		{engine.Reboot, []engine.Phase{engine.PhaseShutdown, engine.PhaseBoot, engine.PhaseConfigure}, []engine.Phase{engine.PhaseShutdown, engine.PhaseBoot}},
		{engine.Boot, []engine.Phase{engine.PhaseBoot, engine.PhaseConfigure}, []engine.Phase{engine.PhaseBoot}},
		{engine.Configure, []engine.Phase{engine.PhaseConfigure}, []engine.Phase{engine.PhaseConfigure}},
	}
	for _, tc := range tests {
		t.Run(string(tc.op), func(t *testing.T) {
			plan := rebootPlan()
			plan.Operation = tc.op
			plan.BootSets[0].Configuration = "site"
			rec := &Record{Operation: string(tc.op), Phases: allPhases(tc.op), StartTime: time.Now()}
			InitStatus(rec, plan)
			phasesOf := map[string][]engine.Phase{}
			for _, bs := range rec.BootSets {
				for _, ps := range bs.Phases {
					phasesOf[bs.Name] = append(phasesOf[bs.Name], ps.Name)
				}
			}
			assert.Equal(t, tc.compute, phasesOf["compute"])
			assert.Equal(t, tc.uan, phasesOf["uan"])
		})
	}
}

func TestSnapshotIntervalGrowsWithTheSession(t *testing.T) {
	for nodes, want := range map[int]time.Duration{
		0:      time.Second,
		16:     time.Second,
		2000:   time.Second,
		4000:   2 * time.Second,
		10000:  5 * time.Second,
		100000: 5 * time.Second,
	} {
		assert.Equal(t, want, snapshotIntervalFor(nodes), "%d nodes", nodes)
	}
}

// allPhases are every phase of op, the configure phase after a boot
// included.
func allPhases(op engine.Operation) []engine.Phase {
	spec, _ := engine.LookupOperation(op)
	return spec.PhasesRun(true)
}
