package session

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bos-project/bos/internal/boa"
	"github.com/bos-project/bos/internal/power"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startRecorder creates a session for plan and records it.
func startRecorder(t *testing.T, s *Store, plan boa.Plan) (*Recorder, *Record) {
	t.Helper()
	rec := &Record{Template: "compute", Operation: string(plan.Operation), Pace: string(boa.Independent)}
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

func rebootPlan() boa.Plan {
	return boa.Plan{Operation: boa.Reboot, BootSets: []boa.BootSetPlan{
		{Name: "compute", Nodes: []string{"n1", "n2", "n3"}},
		{Name: "uan", Nodes: []string{"u1"}},
	}}
}

func tr(bootSet, node string, phase boa.Phase, category boa.Category, reason string) boa.Transition {
	return boa.Transition{BootSet: bootSet, Node: node, Phase: phase, Category: category, Reason: reason}
}

// categories maps phase → category → nodes for one boot set of rec,
// leaving out empty categories.
func categories(rec Record, bootSet string) map[boa.Phase]map[boa.Category][]string {
	out := map[boa.Phase]map[boa.Category][]string{}
	for _, bs := range rec.BootSets {
		if bs.Name != bootSet {
			continue
		}
		for _, ps := range bs.Phases {
			out[ps.Name] = map[boa.Category][]string{}
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
		sd = boa.PhaseShutdown
		bt = boa.PhaseBoot
	)
	tests := []struct {
		name        string
		transitions []boa.Transition
		want        map[boa.Phase]map[boa.Category][]string
		wantErrors  map[string][]string
	}{
		{
			name: "initially every node not started in every phase",
			want: map[boa.Phase]map[boa.Category][]string{
				sd: {boa.NotStarted: {"n1", "n2", "n3"}},
				bt: {boa.NotStarted: {"n1", "n2", "n3"}},
			},
			wantErrors: map[string][]string{},
		},
		{
			name: "nodes move independently",
			transitions: []boa.Transition{
				tr("compute", "n1", sd, boa.InProgress, ""),
				tr("compute", "n1", sd, boa.Succeeded, ""),
				tr("compute", "n1", bt, boa.InProgress, ""),
				tr("compute", "n2", sd, boa.InProgress, ""),
			},
			want: map[boa.Phase]map[boa.Category][]string{
				sd: {boa.Succeeded: {"n1"}, boa.InProgress: {"n2"}, boa.NotStarted: {"n3"}},
				bt: {boa.InProgress: {"n1"}, boa.NotStarted: {"n2", "n3"}},
			},
			wantErrors: map[string][]string{},
		},
		{
			name: "a failed node leaves the later phases",
			transitions: []boa.Transition{
				tr("compute", "n2", sd, boa.Failed, "power off not confirmed after 480s"),
				tr("compute", "n3", sd, boa.Excluded, "disabled"),
			},
			want: map[boa.Phase]map[boa.Category][]string{
				sd: {boa.NotStarted: {"n1"}, boa.Failed: {"n2"}, boa.Excluded: {"n3"}},
				bt: {boa.NotStarted: {"n1", "n3"}, boa.Excluded: {"n2"}},
			},
			wantErrors: map[string][]string{"power off not confirmed after 480s": {"n2"}},
		},
		{
			name: "a failure without a reason still lists the node",
			transitions: []boa.Transition{
				tr("compute", "n1", sd, boa.Succeeded, ""),
				tr("compute", "n1", bt, boa.Failed, ""),
			},
			want: map[boa.Phase]map[boa.Category][]string{
				sd: {boa.Succeeded: {"n1"}, boa.NotStarted: {"n2", "n3"}},
				bt: {boa.Failed: {"n1"}, boa.NotStarted: {"n2", "n3"}},
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
			assert.Equal(t, map[boa.Phase]map[boa.Category][]string{
				sd: {boa.NotStarted: {"u1"}}, bt: {boa.NotStarted: {"u1"}},
			}, categories(snap, "uan"), "the other boot set is untouched")
			assert.Equal(t, tc.wantErrors, snap.BootSets[0].Errors)
		})
	}
}

func TestRecorderKeepsLastActionAndReasonPerNode(t *testing.T) {
	r, _ := startRecorder(t, openStore(t), rebootPlan())
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, r.Record(t.Context(), boa.Transition{
		Time: at, BootSet: "compute", Node: "n1", Phase: boa.PhaseShutdown,
		Category: boa.InProgress, Action: power.ForceOff, Reason: "graceful shutdown timed out",
	}))
	assert.Equal(t, NodeState{
		BootSet: "compute", Phase: boa.PhaseShutdown, Category: boa.InProgress,
		Action: power.ForceOff, Reason: "graceful shutdown timed out", Time: at,
	}, r.Snapshot().NodeStates["n1"])
}

func TestRecorderRefusesTransitionsOutsideThePlan(t *testing.T) {
	tests := []struct {
		name       string
		transition boa.Transition
	}{
		{name: "unknown boot set", transition: tr("gpu", "n1", boa.PhaseBoot, boa.Succeeded, "")},
		{name: "node of another boot set", transition: tr("uan", "n1", boa.PhaseBoot, boa.Succeeded, "")},
		{name: "unknown phase", transition: tr("compute", "n1", "dance", boa.Succeeded, "")},
		{name: "unknown category", transition: tr("compute", "n1", boa.PhaseBoot, "lost", "")},
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
	require.NoError(t, r.Record(t.Context(), tr("uan", "u1", boa.PhaseConfigure, boa.InProgress, "")))
	snap := r.Snapshot()
	assert.Equal(t, []boa.Phase{boa.PhaseShutdown, boa.PhaseBoot, boa.PhaseConfigure}, snap.Phases)
	assert.Equal(t, map[boa.Category][]string{boa.InProgress: {"u1"}}, categories(snap, "uan")[boa.PhaseConfigure])
}

func TestFinishStatusAndSummary(t *testing.T) {
	plan := boa.Plan{Operation: boa.Shutdown, BootSets: []boa.BootSetPlan{
		{Name: "a", Nodes: []string{"n1", "n2", "n3", "n4"}},
	}}
	tests := []struct {
		name          string
		outcomes      map[string]boa.Category // nodes not named stay not started
		given         Status
		want          Status
		wantSucceeded float64
		wantFailed    float64
	}{
		{
			name:     "all succeeded or excluded",
			outcomes: map[string]boa.Category{"n1": boa.Succeeded, "n2": boa.Succeeded, "n3": boa.Succeeded, "n4": boa.Excluded},
			given:    StatusComplete, want: StatusComplete, wantSucceeded: 75,
		},
		{
			name:     "one failed",
			outcomes: map[string]boa.Category{"n1": boa.Succeeded, "n2": boa.Succeeded, "n3": boa.Failed, "n4": boa.Succeeded},
			given:    StatusComplete, want: StatusFailed, wantSucceeded: 75, wantFailed: 25,
		},
		{
			name:     "a node never finished",
			outcomes: map[string]boa.Category{"n1": boa.Succeeded, "n2": boa.Succeeded, "n3": boa.Succeeded},
			given:    StatusComplete, want: StatusFailed, wantSucceeded: 75,
		},
		{
			name:     "cancelled stays cancelled",
			outcomes: map[string]boa.Category{"n1": boa.Succeeded},
			given:    StatusCancelled, want: StatusCancelled, wantSucceeded: 25,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			r, rec := startRecorder(t, s, plan)
			for node, category := range tc.outcomes {
				require.NoError(t, r.Record(t.Context(), tr("a", node, boa.PhaseShutdown, category, "why")))
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
	plan := boa.Plan{Operation: boa.Boot, BootSets: []boa.BootSetPlan{
		{Name: "a", Nodes: []string{"n1", "n2"}},
		{Name: "b", Nodes: []string{"n2", "n3"}},
	}}
	r, _ := startRecorder(t, openStore(t), plan)
	for _, transition := range []boa.Transition{
		tr("a", "n1", boa.PhaseBoot, boa.Succeeded, ""),
		tr("a", "n2", boa.PhaseBoot, boa.Succeeded, ""),
		tr("b", "n2", boa.PhaseBoot, boa.Failed, "boot timed out"),
		tr("b", "n3", boa.PhaseBoot, boa.Failed, "boot timed out"),
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

func manyNodesPlan(n int) boa.Plan {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("nid%05d", i)
	}
	return boa.Plan{Operation: boa.Shutdown, BootSets: []boa.BootSetPlan{{Name: "compute", Nodes: nodes}}}
}

// recordAll records one transition per node from its own goroutine.
func recordAll(t *testing.T, r *Recorder, plan boa.Plan) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(plan.BootSets[0].Nodes))
	for _, node := range plan.BootSets[0].Nodes {
		wg.Go(func() {
			errs <- r.Record(t.Context(), tr("compute", node, boa.PhaseShutdown, boa.Succeeded, ""))
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
			queued := len(r.pending)
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
	assert.Equal(t, map[boa.Category][]string{boa.Succeeded: plan.BootSets[0].Nodes},
		categories(r.Snapshot(), "compute")[boa.PhaseShutdown])
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

func readEvents(t *testing.T, s *Store, id string) []boa.Transition {
	t.Helper()
	f, err := os.Open(filepath.Join(s.Dir(id), eventsFile))
	require.NoError(t, err)
	defer f.Close()
	var events []boa.Transition
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		var e boa.Transition
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
	require.NoError(t, r.Record(t.Context(), tr("compute", "n1", boa.PhaseShutdown, boa.Succeeded, "")))
	require.NoError(t, r.Record(t.Context(), tr("compute", "n2", boa.PhaseShutdown, boa.Failed, "BMC unreachable")))
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
	assert.Equal(t, map[boa.Phase]map[boa.Category][]string{
		boa.PhaseShutdown: {boa.Succeeded: {"n1"}, boa.Failed: {"n2"}, boa.NotStarted: {"n3"}},
		boa.PhaseBoot:     {boa.NotStarted: {"n1", "n3"}, boa.Excluded: {"n2"}},
	}, categories(resumed.Snapshot(), "compute"))

	require.NoError(t, resumed.Record(t.Context(), tr("compute", "n3", boa.PhaseShutdown, boa.InProgress, "")))
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
	rec := &Record{Template: "t", Operation: string(boa.Reboot)}
	require.NoError(t, s.Create(rec))
	r, err := s.newRecorder(t.Context(), rec, rebootPlan(), time.Millisecond)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	require.NoError(t, r.Record(t.Context(), tr("uan", "u1", boa.PhaseShutdown, boa.Failed, "stuck")))
	require.Eventually(t, func() bool {
		got, err := s.Get(rec.ID)
		return err == nil && got.ErrorCount == 1
	}, 10*time.Second, time.Millisecond)
}

func TestRecordAfterCloseFails(t *testing.T) {
	r, _ := startRecorder(t, openStore(t), rebootPlan())
	require.NoError(t, r.Close())
	require.ErrorIs(t, r.Record(t.Context(), tr("uan", "u1", boa.PhaseShutdown, boa.Succeeded, "")), ErrClosed)
	require.ErrorIs(t, r.Finish(StatusComplete), ErrClosed)
}

// TestConfigurePhaseOnlyWhereConfigured: a boot set without a configuration
// has no configure phase after boot, so its booted nodes complete the
// session instead of staying pending; the configure operation lists the
// phase for every boot set (the engine excludes the unconfigured ones).
func TestConfigurePhaseOnlyWhereConfigured(t *testing.T) {
	tests := []struct {
		op      boa.Operation
		compute []boa.Phase
		uan     []boa.Phase
	}{
		{boa.Reboot, []boa.Phase{boa.PhaseShutdown, boa.PhaseBoot, boa.PhaseConfigure}, []boa.Phase{boa.PhaseShutdown, boa.PhaseBoot}},
		{boa.Boot, []boa.Phase{boa.PhaseBoot, boa.PhaseConfigure}, []boa.Phase{boa.PhaseBoot}},
		{boa.Configure, []boa.Phase{boa.PhaseConfigure}, []boa.Phase{boa.PhaseConfigure}},
	}
	for _, tc := range tests {
		t.Run(string(tc.op), func(t *testing.T) {
			plan := rebootPlan()
			plan.Operation = tc.op
			plan.BootSets[0].Configuration = "site"
			rec := &Record{Operation: string(tc.op), Phases: Phases(tc.op, true), StartTime: time.Now()}
			InitStatus(rec, plan)
			phasesOf := map[string][]boa.Phase{}
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
