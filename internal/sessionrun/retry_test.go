package sessionrun

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/session"
)

// stoppedRecord is a reboot of n1..n4 that ended with status: n1
// succeeded, n2 failed, n3 in progress and n4 not started (both pending
// unless done).
func stoppedRecord(status session.Status, done bool) *session.Record {
	rec := &session.Record{ID: "3f2a0000-0000-4000-8000-000000000000", Template: "compute",
		TemplateFile: "/site/it's here/compute.yaml", Operation: string(engine.Reboot), Pace: string(engine.Independent),
		Inventory: "/site/inventory.yaml", Settings: map[string]string{}, Status: status,
		Nodes: []string{"n1", "n2", "n3", "n4"}}
	states := map[string]engine.Category{"n1": engine.Succeeded, "n2": engine.Failed, "n3": engine.InProgress, "n4": engine.NotStarted}
	rec.NodeStates = map[string]session.NodeState{}
	phase := session.PhaseStatus{Name: engine.PhaseShutdown}
	for _, node := range rec.Nodes {
		category := states[node]
		if done && (category == engine.InProgress || category == engine.NotStarted) {
			category = engine.Succeeded
		}
		rec.NodeStates[node] = session.NodeState{BootSet: "compute", Phase: engine.PhaseShutdown, Category: category}
		phase.Categories = append(phase.Categories, session.CategoryStatus{Name: category, NodeList: []string{node}})
	}
	rec.BootSets = []session.BootSetStatus{{Name: "compute", Phases: []session.PhaseStatus{phase}}}
	if !done {
		rec.Summary.Pending = 2
	}
	return rec
}

func TestRetryPicksNodes(t *testing.T) {
	tests := []struct {
		name       string
		rec        *session.Record
		unfinished bool
		want       []string
		wantErr    string
	}{
		{"failed nodes by default", stoppedRecord(session.StatusCancelled, false), false, []string{"n2"}, ""},
		{"unfinished ones when asked", stoppedRecord(session.StatusCancelled, false), true, []string{"n3", "n4"}, ""},
		{"unfinished ones when none failed", func() *session.Record {
			rec := stoppedRecord(session.StatusCancelled, false)
			rec.NodeStates["n2"] = session.NodeState{Category: engine.Succeeded}
			rec.BootSets[0].Phases[0].Categories[1].Name = engine.Succeeded
			return rec
		}(), false, []string{"n3", "n4"}, ""},
		{"a running session's nodes are not its to give", stoppedRecord(session.StatusRunning, false), false, nil, "session is running"},
		{"an interrupted session's unfinished nodes are resumed", stoppedRecord(session.StatusInterrupted, false), true, nil,
			"resume it with 'bos session resume 3f2a0000-0000-4000-8000-000000000000', which finishes its 2 unfinished nodes"},
		{"an interrupted session's failed nodes may be retried", stoppedRecord(session.StatusInterrupted, false), false, []string{"n2"}, ""},
		{"nothing unfinished", stoppedRecord(session.StatusFailed, true), true, nil, "left no unfinished nodes to retry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			retry, err := NewRetry(tc.rec, tc.unfinished)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, retry.Nodes)
		})
	}
}

// TestRetryCommandIsOneShellCommandLine: the retry command names every
// input that differs from what bos takes when not told, and a POSIX shell
// reads it back word for word, whatever the paths hold.
func TestRetryCommandIsOneShellCommandLine(t *testing.T) {
	assert.Empty(t, RetryCommand(stoppedRecord(session.StatusRunning, false)), "none while it runs")
	rec := stoppedRecord(session.StatusFailed, false)
	rec.Pace, rec.IncludeDisabled = string(engine.Lockstep), true
	rec.Settings = map[string]string{"boot_wait": "10m", "require_boot_progress": "true", "retry_policy": "1"}
	command := RetryCommand(rec)
	want := []string{"bos", "session", "create", "--template", "/site/it's here/compute.yaml", "--operation", "reboot",
		"--limit", "n2", "--pace", "lockstep", "--include-disabled", "--inventory", "/site/inventory.yaml",
		"--boot-wait", "10m", "--require-boot-progress=true", "--retry-policy", "1"}
	words, err := exec.Command("sh", "-c", "set -- "+command+`; for word in "$@"; do printf '%s\n' "$word"; done`).Output()
	require.NoError(t, err)
	assert.Equal(t, want, strings.Split(strings.TrimSuffix(string(words), "\n"), "\n"), command)
}

func TestFinishCommandAndNextStep(t *testing.T) {
	interrupted := stoppedRecord(session.StatusInterrupted, false)
	assert.Equal(t, "bos session resume "+interrupted.ID, FinishCommand(interrupted))
	cancelled := stoppedRecord(session.StatusCancelled, false)
	assert.Equal(t, "bos session retry "+cancelled.ID+" --unfinished", FinishCommand(cancelled))
	assert.Equal(t, "finish its 2 unfinished nodes with 'bos session retry "+cancelled.ID+" --unfinished'; "+
		"retry its 1 failed node with 'bos session retry "+cancelled.ID+"'", NextStep(cancelled))
	assert.Empty(t, FinishCommand(stoppedRecord(session.StatusRunning, false)))

	complete := stoppedRecord(session.StatusComplete, true)
	complete.NodeStates["n2"] = session.NodeState{Category: engine.Succeeded}
	assert.Empty(t, FinishCommand(complete))
	assert.Equal(t, "nothing is left to do", NextStep(complete))
}

// TestRetryCommandOfPowerSession: a `bos power` session has no template
// file to name; its retry command is the bos power command again.
func TestRetryCommandOfPowerSession(t *testing.T) {
	for _, action := range PowerActions {
		rec := stoppedRecord(session.StatusFailed, false)
		rec.Template, rec.TemplateFile, rec.Operation = PowerTemplateName, "", string(action.Operation)
		rec.Settings = map[string]string{"boot_wait": "10m"}
		assert.Equal(t, "bos power "+action.Verb+" n2 --inventory /site/inventory.yaml --boot-wait 10m", RetryCommand(rec))
	}
	named := stoppedRecord(session.StatusFailed, false)
	named.Template, named.TemplateFile = "power", "/site/power.yaml"
	assert.Contains(t, RetryCommand(named), "bos session create --template /site/power.yaml", "a template named power is a template")
}
