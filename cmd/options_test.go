package cmd

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	completioncmd "github.com/bos-project/bos/cmd/completion"
	docscmd "github.com/bos-project/bos/cmd/docs"
	inventorycmd "github.com/bos-project/bos/cmd/inventory"
	simcmd "github.com/bos-project/bos/cmd/sim"
	templatecmd "github.com/bos-project/bos/cmd/template"
	versioncmd "github.com/bos-project/bos/cmd/version"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/sim"
)

// The gh shape: every leaf command takes a runF, so a test sees the
// options its flags and arguments made without running anything. `bos
// session`'s commands are driven in cmd/session (their options keep the
// forwarded flags unexported).

// capture is a runF that keeps the options it is given.
func capture[T any](got *any) func(*T) error {
	return func(opts *T) error {
		*got = opts
		return nil
	}
}

type optionsCase struct {
	name string
	cmd  *cobra.Command
	args []string
	want any
}

// assertOptions runs each case's command on its arguments and compares
// the options its runF got.
func assertOptions(t *testing.T, got *any, tests []optionsCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			*got = nil
			tc.cmd.SetArgs(tc.args)
			tc.cmd.SetOut(io.Discard)
			tc.cmd.SetErr(io.Discard)
			require.NoError(t, tc.cmd.Execute())
			assert.Equal(t, tc.want, *got)
		})
	}
}

func testFactory() *cmdutil.Factory {
	ios, _, _ := cmdutil.Test()
	return cmdutil.NewFactory(context.Background(), ios, config.New())
}

func TestInventoryFlagsReachOptions(t *testing.T) {
	f := testFactory()
	var got any
	assertOptions(t, &got, []optionsCase{
		{"list", inventorycmd.NewCmdList(f, capture[inventorycmd.ListOptions](&got)), []string{"-l", "Compute,&p1", "--include-disabled"},
			&inventorycmd.ListOptions{Factory: f, Limit: "Compute,&p1", IncludeDisabled: true}},
		{"check", inventorycmd.NewCmdCheck(f, capture[inventorycmd.CheckOptions](&got)), []string{"--limit", "x[1-2]", "--max-concurrency", "200"},
			&inventorycmd.CheckOptions{Factory: f, Limit: "x[1-2]"}},
	})
}

func TestTemplateFlagsReachOptions(t *testing.T) {
	f := testFactory()
	var got any
	assertOptions(t, &got, []optionsCase{
		{"list", templatecmd.NewCmdList(f, capture[templatecmd.ListOptions](&got)), nil,
			&templatecmd.ListOptions{Factory: f}},
		{"describe", templatecmd.NewCmdDescribe(f, capture[templatecmd.DescribeOptions](&got)), []string{"compute", "--include-disabled"},
			&templatecmd.DescribeOptions{Factory: f, Ref: "compute", IncludeDisabled: true}},
		{"validate", templatecmd.NewCmdValidate(f, capture[templatecmd.ValidateOptions](&got)), []string{"a.yaml", "compute"},
			&templatecmd.ValidateOptions{Factory: f, Refs: []string{"a.yaml", "compute"}}},
	})
}

func TestSimFlagsReachOptions(t *testing.T) {
	f := testFactory()
	var got any
	defaults := sim.DefaultTiming()
	timing := defaults
	timing.PowerOn, timing.BootToOS = 2*time.Second, 3*time.Second
	assertOptions(t, &got, []optionsCase{
		{"defaults", simcmd.NewCmdSim(f, capture[simcmd.Options](&got)), nil,
			&simcmd.Options{Factory: f, Nodes: 16, NodesPerBMC: 1, Profile: "dmtf", TimeScale: 1, SessionLimit: 8, Timing: defaults}},
		{"every flag", simcmd.NewCmdSim(f, capture[simcmd.Options](&got)),
			[]string{"-n", "64", "--nodes-per-bmc", "2", "--profile", "cray-ex", "--time-scale", "0.01", "--write-inventory", "/tmp/inv.yaml",
				"--name-prefix", "nid", "--tls", "--session-limit", "4", "--fault", "unreachable=0.1", "--fault", "5xx=nid[1-2]",
				"--power-on-time", "2s", "--boot-time", "3s"},
			&simcmd.Options{Factory: f, Nodes: 64, NodesPerBMC: 2, Profile: "cray-ex", TimeScale: 0.01, WriteInventory: "/tmp/inv.yaml",
				NamePrefix: "nid", TLS: true, SessionLimit: 4, Faults: []string{"unreachable=0.1", "5xx=nid[1-2]"}, Timing: timing}},
	})
}

func TestMiscFlagsReachOptions(t *testing.T) {
	f := testFactory()
	var got any
	completion := completioncmd.NewCmdCompletion(f, capture[completioncmd.Options](&got))
	man := docscmd.NewCmdMan(f, capture[docscmd.ManOptions](&got))
	assertOptions(t, &got, []optionsCase{
		{"version", versioncmd.NewCmdVersion(f, capture[versioncmd.Options](&got)), nil, &versioncmd.Options{Factory: f}},
		{"completion", completion, []string{"zsh"}, &completioncmd.Options{Factory: f, Shell: "zsh", Root: completion}},
		{"docs man", man, []string{"docs/man"}, &docscmd.ManOptions{Factory: f, Dir: "docs/man", Root: man}},
	})
}
