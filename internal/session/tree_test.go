package session

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/power"
)

// TestProgressTellsIntentFromSent: a resume learns from events.jsonl
// whether a node's last action was confirmed sent. Lines written before
// confirmations existed (an action without "sent") read as intents.
func TestProgressTellsIntentFromSent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	first, err := Open(dir)
	require.NoError(t, err)
	plan := rebootPlan()
	r, rec := startRecorder(t, first, plan)
	require.NoError(t, r.Close()) // the process dies without Finish

	lines := `{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n1","phase":"shutdown","category":"in_progress"}
{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n1","phase":"shutdown","category":"in_progress","action":"graceful-off"}
{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n2","phase":"shutdown","category":"in_progress","action":"graceful-off"}
{"time":"2025-01-02T03:04:06Z","boot_set":"compute","node":"n2","phase":"shutdown","category":"in_progress","action":"graceful-off","sent":true}
{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n3","phase":"shutdown","category":"succeeded"}
{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n3","phase":"boot","category":"in_progress","action":"on"}
{"time":"2025-01-02T03:04:06Z","boot_set":"compute","node":"n3","phase":"boot","category":"in_progress","action":"on","sent":true}
{"time":"2025-01-02T03:04:07Z","boot_set":"compute","node":"n3","phase":"boot","category":"in_progress","reason":"cancelled"}
`
	events, err := os.OpenFile(filepath.Join(first.Dir(rec.ID), eventsFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = events.WriteString(lines)
	require.NoError(t, err)
	require.NoError(t, events.Close())

	second, err := Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Close() })
	got, err := second.Get(rec.ID)
	require.NoError(t, err)
	plan.SessionID = rec.ID
	resumed, err := second.NewRecorder(t.Context(), got, plan)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resumed.Close() })
	assert.Equal(t, map[string]engine.NodeProgress{
		"n1": {Phase: engine.PhaseShutdown, Action: power.GracefulOff},
		"n2": {Phase: engine.PhaseShutdown, Action: power.GracefulOff, Sent: true},
		"n3": {Phase: engine.PhaseBoot, Action: power.PowerOn, Sent: true},
	}, resumed.Progress())
}

// TestWarningsPerNode: each node's warnings are gathered over all its
// transitions, each once, kept through a resume (they are in events.jsonl),
// counted in the summary and in the list row.
func TestWarningsPerNode(t *testing.T) {
	const (
		noOverride = "no one-time boot override (HTTP 405): relied on the boot order"
		noProgress = "boot not confirmed: BMC reports no boot progress"
	)
	dir := filepath.Join(t.TempDir(), "state")
	first, err := Open(dir)
	require.NoError(t, err)
	plan := rebootPlan()
	r, rec := startRecorder(t, first, plan)
	warned := func(node string, category engine.Category, warnings ...string) engine.Transition {
		transition := tr("compute", node, engine.PhaseBoot, category, "")
		transition.Warnings = warnings
		return transition
	}
	for _, transition := range []engine.Transition{
		warned("n1", engine.InProgress, noOverride),
		warned("n2", engine.InProgress, noOverride),
		warned("n2", engine.InProgress),
	} {
		require.NoError(t, r.Record(t.Context(), transition))
	}
	require.NoError(t, r.Close()) // the process dies: resumed below

	second, err := Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Close() })
	got, err := second.Get(rec.ID)
	require.NoError(t, err)
	plan.SessionID = rec.ID
	resumed, err := second.NewRecorder(t.Context(), got, plan)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resumed.Close() })
	for _, transition := range []engine.Transition{
		warned("n1", engine.Succeeded, noProgress, noOverride),
		warned("n2", engine.Failed),
		warned("n3", engine.Succeeded),
	} {
		require.NoError(t, resumed.Record(t.Context(), transition))
	}
	require.NoError(t, resumed.Finish(StatusComplete))

	got, err = second.Get(rec.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{noOverride, noProgress}, got.NodeStates["n1"].Warnings)
	assert.Equal(t, []string{noOverride}, got.NodeStates["n2"].Warnings, "kept past later transitions without any")
	assert.Nil(t, got.NodeStates["n3"].Warnings)
	assert.Equal(t, 2, got.Summary.Warnings)

	data, err := os.ReadFile(filepath.Join(second.Dir(rec.ID), recordFile))
	require.NoError(t, err)
	var raw struct {
		NodeStates map[string]map[string]any `json:"node_states"`
		Summary    map[string]any            `json:"summary"`
	}
	require.NoError(t, json.Unmarshal(data, &raw))
	assert.Equal(t, []any{noOverride}, raw.NodeStates["n2"]["warnings"])
	assert.NotContains(t, raw.NodeStates["n3"], "warnings", "absent when none")
	assert.EqualValues(t, 2, raw.Summary["warnings"])

	rows, err := second.List(Filter{})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, 2, rows[0].Warnings)
}

// TestExcludedNodeLeavesLaterPhases: a node excluded in a phase (a boot
// finding it already On) is excluded from the phases after it too, so a
// session whose other nodes all succeed completes instead of counting it
// pending in its configure phase.
func TestExcludedNodeLeavesLaterPhases(t *testing.T) {
	store, err := Open(filepath.Join(t.TempDir(), "state"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	plan := engine.Plan{Operation: engine.Boot, BootSets: []engine.BootSetPlan{
		{Name: "compute", Nodes: []string{"n1", "n2"}, Configuration: "site"},
	}}
	rec := &Record{Template: "compute", Operation: string(engine.Boot), Nodes: []string{"n1", "n2"},
		Phases: []engine.Phase{engine.PhaseBoot, engine.PhaseConfigure}}
	require.NoError(t, store.Create(rec))
	plan.SessionID = rec.ID
	r, err := store.NewRecorder(t.Context(), rec, plan)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	for _, transition := range []engine.Transition{
		tr("compute", "n1", engine.PhaseBoot, engine.Succeeded, ""),
		tr("compute", "n1", engine.PhaseConfigure, engine.Succeeded, ""),
		tr("compute", "n2", engine.PhaseBoot, engine.Excluded, "already on (use reboot)"),
	} {
		require.NoError(t, r.Record(t.Context(), transition))
	}
	require.NoError(t, r.Finish(StatusComplete))
	got := r.Snapshot()
	assert.Equal(t, StatusComplete, got.Status)
	assert.Equal(t, map[engine.Phase]map[engine.Category][]string{
		engine.PhaseBoot:      {engine.Succeeded: {"n1"}, engine.Excluded: {"n2"}},
		engine.PhaseConfigure: {engine.Succeeded: {"n1"}, engine.Excluded: {"n2"}},
	}, categories(got, "compute"))
	assert.Zero(t, got.Summary.Pending)
	assert.Equal(t, 1, got.Summary.Excluded)
}
