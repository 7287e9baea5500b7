package session

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/power"
)

// TestUnfinishedNodesOfACancelledSession: a cancelled session tells, per
// node it left unfinished, where it stood, its last power action and the
// power state last read, even past the marks the cancel recorded.
func TestUnfinishedNodesOfACancelledSession(t *testing.T) {
	store := openStore(t)
	r, _ := startRecorder(t, store, rebootPlan())
	read := func(transition engine.Transition, action power.Action, sent bool, state power.State) engine.Transition {
		transition.Action, transition.Sent, transition.PowerState = action, sent, state
		return transition
	}
	sd, bt := engine.PhaseShutdown, engine.PhaseBoot
	for _, transition := range []engine.Transition{
		tr("compute", "n1", sd, engine.InProgress, ""),
		read(tr("compute", "n1", sd, engine.InProgress, ""), power.GracefulOff, false, power.On),
		read(tr("compute", "n1", sd, engine.InProgress, ""), power.GracefulOff, true, power.On),
		read(tr("compute", "n2", sd, engine.Succeeded, ""), "", false, power.Off),
		read(tr("compute", "n3", sd, engine.Failed, "did not power off"), "", false, power.On),
	} {
		require.NoError(t, r.Record(t.Context(), transition))
	}
	require.NoError(t, r.MarkCancelled())
	require.NoError(t, r.Finish(StatusCancelled))
	rec := r.Snapshot()

	assert.Equal(t, []string{"n3"}, rec.FailedNodes())
	unfinished := rec.UnfinishedNodes()
	assert.Equal(t, []UnfinishedNode{
		{Node: "n1", BootSet: "compute", Phase: sd, Category: engine.InProgress, Action: power.GracefulOff, ActionSent: true, PowerState: power.On},
		{Node: "n2", BootSet: "compute", Phase: bt, Category: engine.NotStarted, PowerState: power.Off},
		{Node: "u1", BootSet: "uan", Phase: sd, Category: engine.NotStarted},
	}, unfinished)
	assert.Len(t, unfinished, rec.Summary.Pending, "what the summary counts pending")
	assert.Equal(t, power.GracefulOff, rec.NodeStates["n1"].Action, "kept past the cancel's mark")
	assert.Equal(t, ReasonCancelled, rec.NodeStates["n1"].Reason)

	assert.Equal(t, []UnfinishedGroup{
		{Phase: sd, Category: engine.InProgress, Action: power.GracefulOff, ActionSent: true, PowerState: power.On, Nodes: []string{"n1"}},
		{Phase: bt, Category: engine.NotStarted, PowerState: power.Off, Nodes: []string{"n2"}},
		{Phase: sd, Category: engine.NotStarted, Nodes: []string{"u1"}},
	}, GroupUnfinished(unfinished))
	assert.Equal(t, []UnfinishedGroup{{Phase: sd, Category: engine.NotStarted, Nodes: []string{"a", "b"}}, {Phase: bt, Category: engine.NotStarted, Nodes: []string{"c"}}},
		GroupUnfinished([]UnfinishedNode{{Node: "c", Phase: bt, Category: engine.NotStarted},
			{Node: "a", Phase: sd, Category: engine.NotStarted}, {Node: "b", Phase: sd, Category: engine.NotStarted}}),
		"the largest group first")
}

// TestEnginePlanComesFromTheStoredPlan: a record's plan is what it stored;
// one written before bos stored plans has its boot sets' nodes rebuilt
// from its status tree, and says so.
func TestEnginePlanComesFromTheStoredPlan(t *testing.T) {
	plan := engine.Plan{SessionID: "s1", Operation: engine.Reboot, Pace: engine.Lockstep, BootSets: []engine.BootSetPlan{
		{Name: "compute", Nodes: []string{"n2", "n1"}, BootOrdinal: 2, ShutdownOrdinal: 1, Configuration: "site"},
		{Name: "uan", Nodes: []string{"u1"}},
	}}
	rec := &Record{ID: "s1", Operation: string(engine.Reboot), Pace: string(engine.Lockstep), Nodes: []string{"n2", "n1", "u1"}}
	InitStatus(rec, plan)
	rec.Plan = PlannedBootSets(plan, map[string]string{"compute": "pxe"})
	assert.Equal(t, "pxe", rec.Plan[0].BootMethod)
	assert.Empty(t, rec.Plan[1].BootMethod)

	got, stored := rec.EnginePlan()
	assert.True(t, stored)
	assert.Equal(t, plan, got)

	rec.Plan = nil // as bos wrote records before
	got, stored = rec.EnginePlan()
	assert.False(t, stored)
	assert.Equal(t, []engine.BootSetPlan{{Name: "compute", Nodes: []string{"n2", "n1"}}, {Name: "uan", Nodes: []string{"u1"}}}, got.BootSets,
		"nodes from the status tree; ordinals and configurations are the template's to say")
}
