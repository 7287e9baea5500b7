package engine

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

func TestRunConfigureOutcomes(t *testing.T) {
	errUnreachable := errors.New("unreachable: ssh: connect to host n2 port 22: No route to host")
	tests := []struct {
		name          string
		op            Operation
		configuration string
		configurer    *fakeConfigurer // nil: no Configurer
		wantCalls     int
		want          map[string]NodeResult // Node and BootSet filled in
	}{
		{
			name: "per-node results after a boot", op: Boot, configuration: "site",
			configurer: &fakeConfigurer{took: time.Minute, results: func(req ConfigureRequest) (map[string]error, error) {
				return map[string]error{"n1": nil, "n2": errUnreachable}, nil
			}},
			wantCalls: 1,
			want: map[string]NodeResult{
				"n1": {Phase: PhaseConfigure, Category: Succeeded},
				"n2": {Phase: PhaseConfigure, Category: Failed, Reason: errUnreachable.Error()},
				"n3": {Phase: PhaseConfigure, Category: Failed, Reason: noResult},
			},
		},
		{
			name: "a batch error fails every node of the batch", op: Reboot, configuration: "site",
			configurer: &fakeConfigurer{results: func(ConfigureRequest) (map[string]error, error) {
				return nil, errors.New(`playbook "site.yml" not found`)
			}},
			wantCalls: 1,
			want: map[string]NodeResult{
				"n1": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site": playbook "site.yml" not found`},
				"n2": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site": playbook "site.yml" not found`},
				"n3": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site": playbook "site.yml" not found`},
			},
		},
		{
			name: "configure_wait ends a hung configuration", op: Configure, configuration: "site",
			configurer: &fakeConfigurer{},
			wantCalls:  1,
			want: map[string]NodeResult{
				"n1": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site" did not finish within 30m0s`},
				"n2": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site" did not finish within 30m0s`},
				"n3": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site" did not finish within 30m0s`},
			},
		},
		{
			name: "a configuration without a Configurer fails its nodes", op: Boot, configuration: "site",
			want: map[string]NodeResult{
				"n1": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site": no configuration runner is set up`},
				"n2": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site": no configuration runner is set up`},
				"n3": {Phase: PhaseConfigure, Category: Failed, Reason: `configuration "site": no configuration runner is set up`},
			},
		},
		{
			name: "no configuration: a boot ends with the boot phase", op: Boot,
			configurer: &fakeConfigurer{results: allSucceed},
			want: map[string]NodeResult{
				"n1": {Phase: PhaseBoot, Category: Succeeded},
				"n2": {Phase: PhaseBoot, Category: Succeeded},
				"n3": {Phase: PhaseBoot, Category: Succeeded},
			},
		},
		{
			name: "no configuration: the configure operation excludes the nodes", op: Configure,
			configurer: &fakeConfigurer{results: allSucceed},
			want: map[string]NodeResult{
				"n1": {Phase: PhaseConfigure, Category: Excluded, Reason: noConfigurationReason},
				"n2": {Phase: PhaseConfigure, Category: Excluded, Reason: noConfigurationReason},
				"n3": {Phase: PhaseConfigure, Category: Excluded, Reason: noConfigurationReason},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nodes := []string{"n1", "n2", "n3"}
				s := newSession(map[string]nodeScript{
					"n1": {initial: power.Off, onDelay: time.Second},
					"n2": {initial: power.Off, onDelay: time.Second},
					"n3": {initial: power.Off, onDelay: time.Second},
				})
				if tt.configurer != nil {
					tt.configurer.log = s.log
					s.engine.Configure = tt.configurer
				}
				bootSet := BootSetPlan{Name: "compute", Nodes: nodes, Configuration: tt.configuration}
				result, err := s.engine.Run(t.Context(), plan(tt.op, Independent, bootSet))
				require.NoError(t, err)

				for name, want := range tt.want {
					want.Node, want.BootSet = name, "compute"
					assert.Equal(t, want, result.Nodes[name])
				}
				calls := s.configureCalls()
				require.Len(t, calls, tt.wantCalls)
				for _, call := range calls {
					assert.Equal(t, ConfigureRequest{SessionID: "s1", BootSet: "compute", Configuration: "site", Nodes: nodes}, call)
				}
				if tt.op == Configure {
					assert.Empty(t, s.resets("n1"), "the configure operation switches no power")
				}
				for _, name := range nodes {
					if tt.want[name].Phase == PhaseConfigure {
						trs := s.transitions(name)
						assert.Equal(t, []string{"configure/in_progress", "configure/" + string(tt.want[name].Category)}, trs[len(trs)-2:])
					}
				}
			})
		})
	}
}

// Nodes are handed to the Configurer in batches per boot set: full
// batches at once, a partial batch ConfigureBatchWait after its first node
// came, or as soon as no other node of the boot set can still come.
func TestRunConfigureBatches(t *testing.T) {
	names := func(prefix string, from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("%s%02d", prefix, i))
		}
		return out
	}
	tests := []struct {
		name      string
		op        Operation
		bootSets  []BootSetPlan
		wantCalls []ConfigureRequest // SessionID and Configuration filled in
	}{
		{
			name:     "all at once: full batches then the rest without waiting",
			op:       Configure,
			bootSets: []BootSetPlan{{Name: "compute", Nodes: names("c", 0, 7), Configuration: "site"}},
			wantCalls: []ConfigureRequest{
				{BootSet: "compute", Nodes: names("c", 0, 3)},
				{BootSet: "compute", Nodes: names("c", 3, 6)},
				{BootSet: "compute", Nodes: names("c", 6, 7)},
			},
		},
		{
			name: "batches are per boot set",
			op:   Configure,
			bootSets: []BootSetPlan{
				{Name: "compute", Nodes: names("c", 0, 2), Configuration: "site"},
				{Name: "gpu", Nodes: names("g", 0, 2), Configuration: "gpu"},
			},
			wantCalls: []ConfigureRequest{
				{BootSet: "compute", Nodes: names("c", 0, 2)},
				{BootSet: "gpu", Nodes: names("g", 0, 2), Configuration: "gpu"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				scripts := map[string]nodeScript{}
				for _, b := range tt.bootSets {
					for _, n := range b.Nodes {
						scripts[n] = nodeScript{initial: power.Off}
					}
				}
				s := newSession(scripts)
				s.engine.Configure = &fakeConfigurer{log: s.log, took: time.Hour, results: allSucceed}
				s.engine.Options.ConfigureBatchSize = 3
				start := time.Now()
				_, err := s.engine.Run(t.Context(), plan(tt.op, Independent, tt.bootSets...))
				require.NoError(t, err)

				for i := range tt.wantCalls {
					tt.wantCalls[i].SessionID = "s1"
					if tt.wantCalls[i].Configuration == "" {
						tt.wantCalls[i].Configuration = "site"
					}
				}
				assert.ElementsMatch(t, tt.wantCalls, s.configureCalls())
				for _, e := range s.log.snapshot() {
					if e.configure != nil {
						assert.Equal(t, start, e.at, "batch of %v waited", e.configure.Nodes)
					}
				}
			})
		})
	}
}

// Nodes that finish booting apart share a batch if they come within
// ConfigureBatchWait; the last ones go without waiting once no other node
// can come (here because one was excluded).
func TestRunConfigureBatchWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSession(map[string]nodeScript{
			"n1": {initial: power.Off, onDelay: 10 * time.Second},
			"n2": {initial: power.Off, onDelay: 14 * time.Second},
			"n3": {initial: power.Off, onDelay: 200 * time.Second},
			"n4": {initial: power.On},
		})
		s.engine.Configure = &fakeConfigurer{log: s.log, took: time.Minute, results: allSucceed}
		result, err := s.engine.Run(t.Context(), plan(Boot, Independent, BootSetPlan{Name: "compute", Nodes: []string{"n1", "n2", "n3", "n4"}, Configuration: "site"}))
		require.NoError(t, err)
		assert.Equal(t, map[Category]int{Succeeded: 3, Excluded: 1}, result.Counts())

		booted := func(node string) time.Time {
			return s.log.snapshot()[s.firstSeq(node, isTransition(PhaseBoot, Succeeded))].at
		}
		var calls []event
		for _, e := range s.log.snapshot() {
			if e.configure != nil {
				calls = append(calls, e)
			}
		}
		require.Len(t, calls, 2)
		assert.ElementsMatch(t, []string{"n1", "n2"}, calls[0].configure.Nodes)
		assert.Less(t, booted("n1"), booted("n2"))
		assert.Equal(t, booted("n1").Add(DefaultOptions().ConfigureBatchWait), calls[0].at)
		assert.Equal(t, []string{"n3"}, calls[1].configure.Nodes)
		assert.Equal(t, booted("n3"), calls[1].at)
	})
}

func TestRunCancelledWhileConfiguring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(5, func(int) nodeScript { return nodeScript{initial: power.Off, onDelay: time.Second} })
		s := newSession(scripts)
		s.engine.Configure = &fakeConfigurer{log: s.log} // runs until its context ends
		result := s.runCancelledAfter(t, 10*time.Minute, plan(Boot, Independent, BootSetPlan{Name: "compute", Nodes: nodes, Configuration: "site"}))

		assert.Len(t, s.configureCalls(), 1)
		assert.Len(t, result.Unfinished(), 5)
		for _, n := range nodes {
			assert.Equal(t, NodeResult{Node: n, BootSet: "compute", Phase: PhaseConfigure, Category: InProgress}, result.Nodes[n])
		}
	})
}
