package session

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/exitcode"
)

func TestPhaseCountsSumBootSetsPerPhase(t *testing.T) {
	phase := func(name engine.Phase, succeeded, failed []string) PhaseStatus {
		return PhaseStatus{Name: name, Categories: []CategoryStatus{
			{Name: engine.Succeeded, NodeList: succeeded}, {Name: engine.Failed, NodeList: failed}}}
	}
	rec := &Record{
		Phases: []engine.Phase{engine.PhaseShutdown, engine.PhaseBoot},
		BootSets: []BootSetStatus{
			{Name: "compute", Phases: []PhaseStatus{
				phase(engine.PhaseShutdown, []string{"n1", "n2"}, nil),
				phase(engine.PhaseBoot, []string{"n1"}, []string{"n2"})}},
			{Name: "gpu", Phases: []PhaseStatus{
				phase(engine.PhaseShutdown, []string{"g1"}, nil),
				phase(engine.PhaseBoot, nil, []string{"g1"})}},
		},
	}
	assert.Equal(t, []PhaseCount{
		{Phase: engine.PhaseShutdown, Counts: map[engine.Category]int{engine.Succeeded: 3, engine.Failed: 0}},
		{Phase: engine.PhaseBoot, Counts: map[engine.Category]int{engine.Succeeded: 1, engine.Failed: 2}},
	}, rec.PhaseCounts())
}

func TestWarningGroupsMostWidespreadFirst(t *testing.T) {
	rec := &Record{
		Nodes: []string{"n1", "n2", "n3"},
		NodeStates: map[string]NodeState{
			"n1": {Warnings: []string{"boot not confirmed", "slow BMC"}},
			"n2": {Warnings: []string{"slow BMC"}},
			"n3": {Warnings: []string{"another", "slow BMC"}},
		},
	}
	assert.Equal(t, []NodeGroup{
		{Text: "slow BMC", Nodes: []string{"n1", "n2", "n3"}},
		{Text: "another", Nodes: []string{"n3"}},
		{Text: "boot not confirmed", Nodes: []string{"n1"}},
	}, rec.WarningGroups())
	assert.Empty(t, (&Record{Nodes: []string{"n1"}}).WarningGroups())
}

func TestUniquePrefixLengths(t *testing.T) {
	tests := []struct {
		name string
		ids  []string
		want map[string]int
	}{
		{"distinct within eight characters", []string{"aaaa1111-x", "bbbb2222-y"},
			map[string]int{"aaaa1111-x": 8, "bbbb2222-y": 8}},
		{"sharing eleven characters", []string{"abcdef1234-1", "abcdef1234-2", "ffffffff-3"},
			map[string]int{"abcdef1234-1": 12, "abcdef1234-2": 12, "ffffffff-3": 8}},
		{"a neighbour sharing more than the other", []string{"abcdefgh-1", "abcdefgh-12", "abcdefgx"},
			map[string]int{"abcdefgh-1": 11, "abcdefgh-12": 11, "abcdefgx": 8}},
		{"one session", []string{"3f2a0000-0000"}, map[string]int{"3f2a0000-0000": 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, UniquePrefixLengths(tc.ids))
		})
	}
}

func TestOutcomeCarriesTheExitCode(t *testing.T) {
	tests := []struct {
		name     string
		rec      Record
		wantCode exitcode.Code
		want     string
	}{
		{"complete", Record{ID: "s1", Status: StatusComplete}, exitcode.OK, ""},
		{"still running", Record{ID: "s1", Status: StatusRunning}, exitcode.OK, ""},
		{"nodes failed", Record{ID: "s1", Status: StatusFailed, Summary: Summary{Total: 4, Failed: 1}},
			exitcode.NodesFailed, "session s1: 1 of 4 nodes failed"},
		{"cancelled", Record{ID: "s1", Status: StatusCancelled}, exitcode.Interrupted, "session s1 is cancelled"},
		{"interrupted, saying why", Record{ID: "s1", Status: StatusInterrupted, Error: "disk full"},
			exitcode.Interrupted, "session s1 is interrupted: disk full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rec.Outcome()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			var coder exitcode.Coder
			require.ErrorAs(t, err, &coder)
			assert.Equal(t, tc.wantCode, coder.ExitCode())
			assert.EqualError(t, err, tc.want)
		})
	}
}
