package engine

import (
	"slices"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

// TestOperationsTable checks the table itself: every operation named once,
// described, with phases the engine has work for.
func TestOperationsTable(t *testing.T) {
	ops := Operations()
	require.NotEmpty(t, ops)
	seen := map[Operation]bool{}
	for _, op := range ops {
		assert.False(t, seen[op.Name], "%s is in the table twice", op.Name)
		seen[op.Name] = true
		assert.NotEmpty(t, op.Description, op.Name)
		assert.NotEmpty(t, op.Phases, op.Name)
		for _, phase := range op.Phases {
			assert.Contains(t, phaseWork, phase, "%s: phase %s has no work in phases.go", op.Name, phase)
		}
		assert.Equal(t, slices.Contains(op.Phases, PhaseBoot), op.Boots, "%s: Boots says whether it has a boot phase", op.Name)
		assert.Equal(t, slices.Contains(op.Phases, PhaseConfigure), op.Configures, "%s: Configures says whether it has a configure phase", op.Name)
		found, ok := LookupOperation(op.Name)
		assert.True(t, ok, op.Name)
		assert.Equal(t, op, found)
	}
	assert.Equal(t, []string{"boot", "shutdown", "reboot", "configure"}, OperationNames(), "the command line's order")
	_, ok := LookupOperation("reset")
	assert.False(t, ok)

	// Callers get copies: the table cannot be changed from outside.
	ops[0].Phases[0] = "mangled"
	again, _ := LookupOperation(ops[0].Name)
	again.Phases[0] = "mangled"
	assert.NotEqual(t, Phase("mangled"), Operations()[0].Phases[0])
}

// TestEveryOperationRunsItsTablePhases runs each operation of the table
// and checks that the engine takes its nodes through the row's phases in
// the row's order (a boot set naming no configuration through those it
// does not skip), prepares a boot only for an operation that boots and
// runs a configuration only for one that configures.
func TestEveryOperationRunsItsTablePhases(t *testing.T) {
	for _, op := range Operations() {
		t.Run(string(op.Name), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				initial := power.Off
				if op.Phases[0] == PhaseShutdown {
					initial = power.On
				}
				s := newSession(map[string]nodeScript{"n1": {initial: initial}, "n2": {initial: initial}})
				s.engine.Boot = &fakePreparer{log: s.log}
				s.engine.Configure = &fakeConfigurer{log: s.log, results: allSucceed}
				configured := BootSetPlan{Name: "compute", Nodes: []string{"n1"}, Configuration: "site"}
				bare := BootSetPlan{Name: "uan", Nodes: []string{"n2"}}
				_, err := s.engine.Run(t.Context(), plan(op.Name, Independent, configured, bare))
				require.NoError(t, err)

				for node, bs := range map[string]BootSetPlan{"n1": configured, "n2": bare} {
					want := slices.DeleteFunc(slices.Clone(op.Phases), func(phase Phase) bool { return op.Skips(phase, bs) })
					var got []Phase
					for _, e := range s.log.snapshot() {
						if isTransitionEvent(e) && e.node == node && !slices.Contains(got, e.transition.Phase) {
							got = append(got, e.transition.Phase)
						}
					}
					assert.Equal(t, want, got, "%s of boot set %s", node, bs.Name)
				}
				assert.Equal(t, op.Boots, s.prepares("n1") > 0, "boot prepared")
				assert.Equal(t, op.Configures, len(s.configureCalls()) > 0, "configuration run")
			})
		})
	}
}

func TestPhasesRunAndSkips(t *testing.T) {
	reboot, _ := LookupOperation(Reboot)
	assert.Equal(t, []Phase{PhaseShutdown, PhaseBoot, PhaseConfigure}, reboot.PhasesRun(true))
	assert.Equal(t, []Phase{PhaseShutdown, PhaseBoot}, reboot.PhasesRun(false))
	assert.True(t, reboot.Skips(PhaseConfigure, BootSetPlan{}))
	assert.False(t, reboot.Skips(PhaseConfigure, BootSetPlan{Configuration: "site"}))
	assert.False(t, reboot.Skips(PhaseBoot, BootSetPlan{}))

	configure, _ := LookupOperation(Configure)
	assert.Equal(t, []Phase{PhaseConfigure}, configure.PhasesRun(false), "the configure operation always has its phase")
	assert.False(t, configure.Skips(PhaseConfigure, BootSetPlan{}), "its nodes are excluded instead")
}
