package cmd

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/sim"
)

// mixedTemplate has a boot set that names a configuration and one that
// names none, so that every rule of the operation table shows.
const mixedTemplate = `name: mixed
boot_sets:
  compute:
    type: manifest
    path: manifest.json
    node_list: [x3000c0s1b0n0]
    cfs:
      configuration: site
  uan:
    type: manifest
    path: manifest.json
    node_list: [x3000c0s2b0n0]
`

// TestOperationViewsFollowTheTable checks every view of the operations
// against the engine's table: --operation's help, its validation and its
// completion, the dry run's phases, boot descriptions and configurations,
// and the phases of the session record and of its status tree.
func TestOperationViewsFollowTheTable(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	env.withConfiguration(t, "site")
	tmpl := env.writeTemplate("mixed", mixedTemplate)
	operations := engine.Operations()
	var names []string
	for _, op := range operations {
		names = append(names, string(op.Name))
	}

	io, _, _ := cmdutil.Test()
	v := config.New()
	create, _, err := NewRootCmd(cmdutil.NewFactory(context.Background(), io, v), v).Find([]string{"session", "create"})
	require.NoError(t, err)
	assert.Equal(t, "operation: "+strings.Join(names, ", "), create.Flags().Lookup("operation").Usage)

	offered, _ := env.complete("session", "create", "--operation", "")
	want := map[string]string{}
	for _, op := range operations {
		want[string(op.Name)] = op.Description
	}
	assert.Equal(t, want, offered, "completion offers every operation with its description")

	code, _, errOut := env.run("session", "create", "--template", tmpl, "--operation", "reset")
	assert.Equal(t, cmdutil.ExitInvalid, code)
	assert.Contains(t, errOut, "choose one of "+strings.Join(names, ", "))

	for _, op := range operations {
		t.Run(string(op.Name), func(t *testing.T) {
			code, out, errOut := env.run("session", "create", "--template", tmpl, "--operation", string(op.Name), "--dry-run", "-o", "json")
			require.Equal(t, cmdutil.ExitOK, code, errOut)
			var plan struct {
				BootSets []struct {
					Name          string         `json:"name"`
					Phases        []engine.Phase `json:"phases"`
					Configuration string         `json:"configuration"`
				} `json:"boot_sets"`
				Boot []json.RawMessage `json:"boot"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &plan), out)
			assert.Equal(t, op.Boots, len(plan.Boot) > 0, "a boot is described for an operation that boots")
			require.Len(t, plan.BootSets, 2)
			for _, bs := range plan.BootSets {
				assert.Equal(t, op.PhasesRun(true), bs.Phases, bs.Name)
				assert.Equal(t, op.Configures && bs.Name == "compute", bs.Configuration != "",
					"%s: a configuration is resolved for an operation that configures", bs.Name)
			}

			// From Off, so that a boot has nodes to boot.
			code, _, errOut = env.run("session", "create", "--template", tmpl, "--operation", string(engine.Shutdown))
			require.Equal(t, cmdutil.ExitOK, code, errOut)
			code, out, errOut = env.run("session", "create", "--template", tmpl, "--operation", string(op.Name), "-o", "json")
			require.Equal(t, cmdutil.ExitOK, code, errOut)
			var rec struct {
				Phases   []engine.Phase `json:"phases"`
				BootSets []struct {
					Name   string `json:"name"`
					Phases []struct {
						Name engine.Phase `json:"name"`
					} `json:"phases"`
				} `json:"boot_sets"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
			assert.Equal(t, op.PhasesRun(true), rec.Phases)
			require.Len(t, rec.BootSets, 2)
			for _, bs := range rec.BootSets {
				plan := engine.BootSetPlan{Name: bs.Name}
				if bs.Name == "compute" {
					plan.Configuration = "site"
				}
				wantPhases := slices.DeleteFunc(op.PhasesRun(true), func(phase engine.Phase) bool { return op.Skips(phase, plan) })
				var got []engine.Phase
				for _, phase := range bs.Phases {
					got = append(got, phase.Name)
				}
				assert.Equal(t, wantPhases, got, "status tree of boot set %s", bs.Name)
			}
		})
	}
}
