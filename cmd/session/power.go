package session

import (
	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/sessionrun"
)

// PowerOptions are the flags of `bos power on|off|reboot`.
type PowerOptions struct {
	Factory         *cmdutil.Factory
	Action          sessionrun.PowerAction
	Limit           string
	IncludeDisabled bool
	DryRun          bool
	Detach          bool
	forwarded       []string
}

// NewCmdPowerAction returns `bos power VERB LIMIT` for one of
// sessionrun.PowerActions; runF replaces the run function in tests.
func NewCmdPowerAction(f *cmdutil.Factory, action sessionrun.PowerAction, runF func(*PowerOptions) error) *cobra.Command {
	opts := &PowerOptions{Factory: f, Action: action}
	c := &cobra.Command{
		Use:   action.Verb + " LIMIT",
		Short: action.Description,
		Long: `Run the ` + string(action.Operation) + ` operation on the nodes LIMIT names, as a session of
a template with one boot set of those nodes and boot_method none would: power
only, no boot image, no configuration. It is a session like any other, kept in
the state directory ('bos session list', 'describe', 'retry' and 'resume' work
on it). LIMIT is BOS limit syntax, @FILE or - (see 'bos power').

Exit status: 0 all nodes succeeded, 2 invalid input, 3 some nodes failed,
4 nodes held by another running session, 130 interrupted.`,
		Example: "  bos power " + action.Verb + " 'x3000c0s[1-4]b0n0'\n" +
			"  bos power " + action.Verb + " @nodes.txt --dry-run",
		Args: cmdutil.OneLimit,
		RunE: func(c *cobra.Command, args []string) error {
			limit, err := cmdutil.LimitArg(args[0], f.IO.In)
			if err != nil {
				return err
			}
			opts.Limit = limit
			opts.forwarded = forwardedFlags(c)
			if runF != nil {
				return runF(opts)
			}
			return runPower(opts)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&opts.IncludeDisabled, "include-disabled", false, "also act on nodes disabled in the inventory")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan and touch no BMC")
	fl.BoolVar(&opts.Detach, "detach", false, "print the session id at once and run the session in a background bos process")
	addRunFlags(c)
	return c
}

func runPower(opts *PowerOptions) error {
	env, err := newSessionEnv(opts.Factory)
	if err != nil {
		return err
	}
	defer env.store.Close()
	prepared, err := env.runner.PreparePower(opts.Factory.Context, sessionrun.Request{
		Operation:       opts.Action.Operation,
		Limit:           opts.Limit,
		IncludeDisabled: opts.IncludeDisabled,
		Pace:            engine.Independent,
	})
	if err != nil {
		return err
	}
	return env.runPrepared(prepared, opts.DryRun, opts.Detach, opts.forwarded)
}
