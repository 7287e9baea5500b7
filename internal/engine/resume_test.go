package engine

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

// Each case resumes node n1 of a reboot of boot set "compute" (configured
// with "site") from where an interrupted run left it, in the power state
// the BMC now reports, and checks that nothing needless is done.
func TestRunResume(t *testing.T) {
	// mid: action confirmed sent (none if ""); intended: action recorded
	// as about to be sent, never confirmed.
	mid := func(phase Phase, action power.Action) *NodeProgress {
		return &NodeProgress{Phase: phase, Action: action, Sent: action != ""}
	}
	intended := func(phase Phase, action power.Action) *NodeProgress {
		return &NodeProgress{Phase: phase, Action: action}
	}
	tests := []struct {
		name          string
		progress      *NodeProgress // nil: absent from Plan.Resume
		script        nodeScript
		wantResets    []power.Action
		wantPrepares  int
		wantFirst     string // first transition recorded for n1; "" for none
		wantCategory  Category
		wantPhase     Phase
		wantConfigure bool
	}{
		{
			name: "absent starts from the beginning", script: nodeScript{initial: power.On, gracefulDelay: 20 * time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.GracefulOff, power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "finished is left alone", progress: &NodeProgress{Finished: true, Phase: PhaseShutdown},
			script: nodeScript{initial: power.On},
		},
		{
			name: "completed last phase is finished", progress: &NodeProgress{Phase: PhaseConfigure, Completed: true},
			script: nodeScript{initial: power.On},
		},
		{
			name: "completed shutdown goes on to boot", progress: &NodeProgress{Phase: PhaseShutdown, Completed: true},
			script:     nodeScript{initial: power.Off, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantPrepares: 1, wantFirst: "boot/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "completed boot goes on to configure", progress: &NodeProgress{Phase: PhaseBoot, Completed: true},
			script:    nodeScript{initial: power.On},
			wantFirst: "configure/in_progress", wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "shutdown without a sent action starts afresh", progress: mid(PhaseShutdown, ""),
			script:     nodeScript{initial: power.On, gracefulDelay: 20 * time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.GracefulOff, power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "graceful off that landed is not sent again", progress: mid(PhaseShutdown, power.GracefulOff),
			script:     nodeScript{initial: power.Off, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "graceful off under way is awaited", progress: mid(PhaseShutdown, power.GracefulOff),
			script:     nodeScript{initial: power.On, becoming: power.Off, becomingDelay: 40 * time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "graceful off with the node still on is never pressed twice", progress: mid(PhaseShutdown, power.GracefulOff),
			script:     nodeScript{initial: power.On, gracefulDelay: never, forceDelay: time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.ForceOff, power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "graceful off not confirmed sent, node still on: sent again, not waited out", progress: intended(PhaseShutdown, power.GracefulOff),
			script:     nodeScript{initial: power.On, gracefulDelay: 20 * time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.GracefulOff, power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "graceful off not confirmed sent, node powering off: awaited", progress: intended(PhaseShutdown, power.GracefulOff),
			script:     nodeScript{initial: power.On, becoming: power.Off, becomingDelay: 40 * time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "graceful off not confirmed sent but landed", progress: intended(PhaseShutdown, power.GracefulOff),
			script:     nodeScript{initial: power.Off, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "force off not confirmed sent, node still on: sent again, without graceful", progress: intended(PhaseShutdown, power.ForceOff),
			script:     nodeScript{initial: power.On, forceDelay: time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.ForceOff, power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "force off under way is awaited", progress: mid(PhaseShutdown, power.ForceOff),
			script:     nodeScript{initial: power.On, becoming: power.Off, becomingDelay: 5 * time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "force off that did not land is sent again", progress: mid(PhaseShutdown, power.ForceOff),
			script:     nodeScript{initial: power.On, forceDelay: time.Second, onDelay: time.Second},
			wantResets: []power.Action{power.ForceOff, power.PowerOn}, wantPrepares: 1, wantFirst: "shutdown/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "boot without a sent On starts afresh", progress: mid(PhaseBoot, ""),
			script:     nodeScript{initial: power.Off, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantPrepares: 1, wantFirst: "boot/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "On that landed goes on to the boot wait", progress: mid(PhaseBoot, power.PowerOn),
			script:    nodeScript{initial: power.On},
			wantFirst: "boot/in_progress", wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "On under way is awaited", progress: mid(PhaseBoot, power.PowerOn),
			script:    nodeScript{initial: power.Off, becoming: power.On, becomingDelay: 30 * time.Second},
			wantFirst: "boot/in_progress", wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "On that did not land is sent again, without preparing again", progress: mid(PhaseBoot, power.PowerOn),
			script:     nodeScript{initial: power.Off, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantFirst: "boot/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "On not confirmed sent, node off: sent again, without preparing again", progress: intended(PhaseBoot, power.PowerOn),
			script:     nodeScript{initial: power.Off, onDelay: time.Second},
			wantResets: []power.Action{power.PowerOn}, wantFirst: "boot/in_progress",
			wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "On not confirmed sent, node powering on: awaited", progress: intended(PhaseBoot, power.PowerOn),
			script:    nodeScript{initial: power.Off, becoming: power.On, becomingDelay: 30 * time.Second},
			wantFirst: "boot/in_progress", wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
		{
			name: "configure in progress is configured again", progress: mid(PhaseConfigure, ""),
			script:    nodeScript{initial: power.On},
			wantFirst: "configure/in_progress", wantCategory: Succeeded, wantPhase: PhaseConfigure, wantConfigure: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSession(map[string]nodeScript{"n1": tt.script, "n2": {initial: power.On, gracefulDelay: 300 * time.Second, onDelay: time.Second}})
				s.engine.BMC = progressBMC{s.bmc}
				s.engine.Boot = &fakePreparer{log: s.log}
				s.engine.Configure = &fakeConfigurer{log: s.log, took: time.Minute, results: allSucceed}
				p := plan(Reboot, Lockstep, BootSetPlan{Name: "compute", Nodes: []string{"n1", "n2"}, Configuration: "site"})
				if tt.progress != nil {
					p.Resume = map[string]NodeProgress{"n1": *tt.progress}
				}
				result, err := s.engine.Run(t.Context(), p)
				require.NoError(t, err)

				assert.Equal(t, tt.wantResets, s.resets("n1"))
				assert.Equal(t, tt.wantPrepares, s.prepares("n1"))
				transitions := s.transitions("n1")
				if tt.wantFirst == "" {
					assert.Empty(t, transitions)
					assert.NotContains(t, result.Nodes, "n1", "a node finished before is not in the Result")
				} else {
					require.NotEmpty(t, transitions)
					assert.Equal(t, tt.wantFirst, transitions[0])
					assert.Equal(t, tt.wantCategory, result.Nodes["n1"].Category)
					assert.Equal(t, tt.wantPhase, result.Nodes["n1"].Phase)
				}
				configured := false
				for _, call := range s.configureCalls() {
					configured = configured || slices.Contains(call.Nodes, "n1")
				}
				assert.Equal(t, tt.wantConfigure, configured)
				// Lockstep: n2 is never held up by n1, whatever n1's state.
				assert.Equal(t, Succeeded, result.Nodes["n2"].Category)
			})
		})
	}
}

// TestActionRecordedAroundItsSending: the intent to send an action is
// recorded before the request goes out, and "sent" only once the BMC
// accepted it, so that a resume can tell the two apart.
func TestActionRecordedAroundItsSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSession(map[string]nodeScript{"n1": {initial: power.Off, onErrors: 1, onDelay: time.Second}})
		_, err := s.engine.Run(t.Context(), plan(Boot, Independent, oneBootSet("n1")))
		require.NoError(t, err)
		var order []string
		for _, e := range s.log.snapshot() {
			switch {
			case e.reset:
				order = append(order, "reset")
			case isTransitionEvent(e) && e.transition.Sent:
				order = append(order, "sent")
			case isTransitionEvent(e) && e.transition.Action != "":
				order = append(order, "intent")
			}
		}
		assert.Equal(t, []string{"intent", "reset", "intent", "reset", "sent"}, order, "the refused first On is never recorded as sent")
	})
}

// A node that failed or was excluded in its last phase is finished: a
// resume leaves it alone, whatever the operation and its power state.
func TestRunResumeLeavesFinishedNodesAlone(t *testing.T) {
	lastPhase := map[Operation]Phase{Shutdown: PhaseShutdown, Boot: PhaseConfigure, Reboot: PhaseConfigure, Configure: PhaseConfigure}
	for _, op := range []Operation{Shutdown, Boot, Reboot, Configure} {
		for _, category := range []Category{Failed, Excluded} {
			t.Run(string(op)+"/"+string(category), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					// Both nodes are in a state the operation acts on; n2, not
					// started, runs it beside n1.
					script := nodeScript{initial: power.On, gracefulDelay: time.Second, onDelay: time.Second}
					if op == Boot {
						script.initial = power.Off
					}
					s := newSession(map[string]nodeScript{"n1": script, "n2": script})
					s.engine.Boot = &fakePreparer{log: s.log}
					s.engine.Configure = &fakeConfigurer{log: s.log, took: time.Minute, results: allSucceed}
					p := plan(op, Independent, BootSetPlan{Name: "compute", Nodes: []string{"n1", "n2"}, Configuration: "site"})
					var progress NodeProgress
					for _, transition := range []Transition{
						{Node: "n1", Phase: lastPhase[op], Category: InProgress},
						{Node: "n1", Phase: lastPhase[op], Category: category, Reason: "before the interruption"},
					} {
						progress = progress.After(transition)
					}
					require.True(t, progress.Finished)
					p.Resume = map[string]NodeProgress{"n1": progress}

					result, err := s.engine.Run(t.Context(), p)
					require.NoError(t, err)
					for _, e := range s.log.snapshot() {
						assert.False(t, e.node == "n1" || e.configure != nil && slices.Contains(e.configure.Nodes, "n1"),
							"n1 is acted on: %+v", e)
					}
					assert.Zero(t, s.bmc.readsOf("n1"), "n1's power state is not even read")
					assert.NotContains(t, result.Nodes, "n1")
					assert.Equal(t, Succeeded, result.Nodes["n2"].Category, "n2 ran its operation")
				})
			})
		}
	}
}

func TestRunResumeRejectsPhaseNotInOperation(t *testing.T) {
	tests := []struct {
		name     string
		op       Operation
		progress NodeProgress
		want     string
	}{
		{"configure without a configuration", Boot, NodeProgress{Phase: PhaseConfigure}, `node "n1" resumes in phase "configure", which boot set "compute" does not have`},
		{"shutdown in a boot", Boot, NodeProgress{Phase: PhaseShutdown, Completed: true}, `node "n1" resumes in phase "shutdown"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(map[string]nodeScript{"n1": {initial: power.Off}})
			p := plan(tt.op, Independent, oneBootSet("n1"))
			p.Resume = map[string]NodeProgress{"n1": tt.progress}
			_, err := s.engine.Run(t.Context(), p)
			require.ErrorIs(t, err, ErrInvalidPlan)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, s.log.snapshot())
		})
	}
}

func TestNodeProgressAfter(t *testing.T) {
	tr := func(phase Phase, category Category, action power.Action) Transition {
		return Transition{Node: "n1", Phase: phase, Category: category, Action: action}
	}
	sent := func(phase Phase, action power.Action) Transition {
		return Transition{Node: "n1", Phase: phase, Category: InProgress, Action: action, Sent: true}
	}
	tests := []struct {
		name        string
		transitions []Transition
		want        NodeProgress
	}{
		{"nothing recorded", nil, NodeProgress{}},
		{"phase started", []Transition{tr(PhaseShutdown, InProgress, "")}, NodeProgress{Phase: PhaseShutdown}},
		{"an intent alone is not sent", []Transition{
			tr(PhaseShutdown, InProgress, ""), tr(PhaseShutdown, InProgress, power.GracefulOff),
		}, NodeProgress{Phase: PhaseShutdown, Action: power.GracefulOff}},
		{"a confirmation makes it sent", []Transition{
			tr(PhaseShutdown, InProgress, ""), tr(PhaseShutdown, InProgress, power.GracefulOff), sent(PhaseShutdown, power.GracefulOff),
		}, NodeProgress{Phase: PhaseShutdown, Action: power.GracefulOff, Sent: true}},
		{"the last action counts", []Transition{
			tr(PhaseShutdown, InProgress, power.GracefulOff), sent(PhaseShutdown, power.GracefulOff), tr(PhaseShutdown, InProgress, power.ForceOff),
		}, NodeProgress{Phase: PhaseShutdown, Action: power.ForceOff}},
		{"a cancel mark keeps the action", []Transition{
			tr(PhaseShutdown, InProgress, power.ForceOff), sent(PhaseShutdown, power.ForceOff), tr(PhaseShutdown, InProgress, ""),
		}, NodeProgress{Phase: PhaseShutdown, Action: power.ForceOff, Sent: true}},
		{"phase succeeded", []Transition{
			tr(PhaseShutdown, InProgress, ""), tr(PhaseShutdown, InProgress, power.GracefulOff), tr(PhaseShutdown, Succeeded, ""),
		}, NodeProgress{Phase: PhaseShutdown, Completed: true}},
		{"next phase started forgets the last one's action", []Transition{
			tr(PhaseShutdown, InProgress, power.GracefulOff), tr(PhaseShutdown, Succeeded, ""), tr(PhaseBoot, InProgress, ""),
		}, NodeProgress{Phase: PhaseBoot}},
		{"boot On sent", []Transition{
			tr(PhaseShutdown, Succeeded, ""), tr(PhaseBoot, InProgress, ""), tr(PhaseBoot, InProgress, power.PowerOn), sent(PhaseBoot, power.PowerOn),
		}, NodeProgress{Phase: PhaseBoot, Action: power.PowerOn, Sent: true}},
		{"failed is finished", []Transition{
			tr(PhaseShutdown, InProgress, power.ForceOff), tr(PhaseShutdown, Failed, ""),
		}, NodeProgress{Finished: true, Phase: PhaseShutdown}},
		{"excluded is finished", []Transition{tr(PhaseBoot, InProgress, ""), tr(PhaseBoot, Excluded, "")}, NodeProgress{Finished: true, Phase: PhaseBoot}},
		{"finished stays finished", []Transition{tr(PhaseBoot, Failed, ""), tr(PhaseBoot, InProgress, power.PowerOn)}, NodeProgress{Finished: true, Phase: PhaseBoot}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got NodeProgress
			for _, transition := range tt.transitions {
				got = got.After(transition)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
