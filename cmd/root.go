// Package cmd is bos's command line: cobra commands that parse flags, wire
// the internal packages together and print results. No orchestration logic
// lives here.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/bos-project/bos/cmd/cmdutil"
	completioncmd "github.com/bos-project/bos/cmd/completion"
	docscmd "github.com/bos-project/bos/cmd/docs"
	inventorycmd "github.com/bos-project/bos/cmd/inventory"
	powercmd "github.com/bos-project/bos/cmd/power"
	sessioncmd "github.com/bos-project/bos/cmd/session"
	simcmd "github.com/bos-project/bos/cmd/sim"
	templatecmd "github.com/bos-project/bos/cmd/template"
	versioncmd "github.com/bos-project/bos/cmd/version"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/cpuprofile"
)

// Execute runs bos with the process's arguments and exits with the code the
// CLI contract gives the outcome.
func Execute() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	io := cmdutil.System()
	stopProfile, err := cpuprofile.Start()
	if err != nil {
		fmt.Fprintf(io.ErrOut, "bos: %v\n", err)
		os.Exit(cmdutil.ExitFailure)
	}
	code := Run(ctx, io, os.Args[1:])
	stopProfile()
	stop()
	os.Exit(code)
}

// Run executes one bos invocation and returns its exit code; tests call it
// with buffers instead of a shell.
func Run(ctx context.Context, io *cmdutil.IOStreams, args []string) int {
	v := config.New()
	f := cmdutil.NewFactory(ctx, io, v)
	root := NewRootCmd(f, v)
	root.SetArgs(args)
	if completioncmd.Requested(args) {
		if err := completioncmd.Register(root, f); err != nil {
			fmt.Fprintf(io.ErrOut, "bos: %v\n", err)
			return cmdutil.ExitFailure
		}
	}
	ran := markRuns(root)
	err := root.ExecuteContext(ctx)
	if err != nil && !*ran && !errors.Is(err, cmdutil.ErrUsage) {
		// cobra rejected the command line itself (unknown command, wrong
		// number of arguments, a required flag missing): a usage error.
		err = cmdutil.UsageError("%v (see 'bos help')", err)
	}
	if err != nil {
		var exit *cmdutil.ExitError
		if !errors.As(err, &exit) || exit.Err != nil {
			fmt.Fprintf(io.ErrOut, "bos: %v\n", err)
		}
	}
	return cmdutil.ExitCode(err)
}

// markRuns wraps every command's RunE to note that argument parsing and
// validation are over, so Run can tell cobra's usage errors from the
// command's own.
func markRuns(c *cobra.Command) *bool {
	ran := new(bool)
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				*ran = true
				return run(c, args)
			}
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	wrap(c)
	return ran
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *cmdutil.Factory, v *viper.Viper) *cobra.Command {
	root := &cobra.Command{
		Use:   "bos",
		Short: "Boot, shut down, reboot and configure HPC nodes through their Redfish BMCs",
		Long: `bos orchestrates boot, shutdown, reboot and configure of HPC node sets through
their Redfish BMCs, the way Cray's Boot Orchestration Service (BOS v1 sessions)
did, without Kubernetes. It reads a session template, selects nodes from a local
inventory, drives every node's BMC and keeps each session's history in a local
state directory.`,
		Example: `  # reboot sixteen compute nodes described by the "compute" template
  bos session create --template compute --operation reboot --limit 'x3000c0s[1-16]b0n0'

  # what ran, and how it went
  bos session list
  bos session describe 3f2a

  # try everything against a simulated fleet
  bos sim --nodes 16 --write-inventory /tmp/inv.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// bos completion replaces cobra's own, with install instructions.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if err := cmdutil.ResolveLimit(c, f.IO.In); err != nil {
			return err
		}
		return cmdutil.BindConfigFlags(c, v)
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cmdutil.UsageError("%v (see '%s --help')", err, c.CommandPath())
	})

	cmdutil.GlobalSettingFlags(root.PersistentFlags(), v)

	root.AddCommand(
		sessioncmd.NewCmdSession(f),
		templatecmd.NewCmdTemplate(f),
		inventorycmd.NewCmdInventory(f),
		powercmd.NewCmdPower(f),
		simcmd.NewCmdSim(f, nil),
		versioncmd.NewCmdVersion(f, nil),
		completioncmd.NewCmdCompletion(f, nil),
		docscmd.NewCmdDocs(f),
	)
	for _, group := range root.Commands() {
		rejectUnknownSubcommands(group)
	}
	root.SetGlobalNormalizationFunc(crayFlagNames)
	return root
}

// crayFlagAliases are the Cray CLI's names of bos flags ('cray bos v1
// session create --template-name', '--format json'), so an admin's habit
// and scripts work unchanged. They are read as the bos flag wherever it
// exists and stay out of help (docs/cray-bos-mapping.md lists them).
var crayFlagAliases = map[string]string{
	"template-name": "template",
	"template-uuid": "template",
	"format":        "output",
}

func crayFlagNames(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if bos, ok := crayFlagAliases[name]; ok {
		return pflag.NormalizedName(bos)
	}
	return pflag.NormalizedName(name)
}

// rejectUnknownSubcommands makes a command group (bos session, bos
// template…) refuse an unknown subcommand with a usage error. Left to
// cobra, `bos session craete` would print help and exit 0, and a script
// with a typo would carry on as if it had worked.
func rejectUnknownSubcommands(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.NoArgs
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	for _, sub := range c.Commands() {
		rejectUnknownSubcommands(sub)
	}
}
