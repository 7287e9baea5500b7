package inventory

import (
	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// NewCmdPowerStatus returns `bos power status LIMIT`: `bos inventory
// check` of the nodes LIMIT names, which must be given. It reads each
// node's power state and changes nothing, so it keeps no session.
func NewCmdPowerStatus(f *cmdutil.Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{Factory: f}
	c := &cobra.Command{
		Use:   "status LIMIT",
		Short: "Read the power state of some nodes from their BMCs (changes nothing)",
		Long: `Read the power state of every node LIMIT names from its Redfish BMC, as
'bos inventory check --limit LIMIT' does: one line per node (power state, or
why its BMC could not be used) and a summary line. Nothing is changed and no
session is kept. LIMIT is BOS limit syntax, @FILE or - (see 'bos power').

Exit status: 0 every BMC answered, 2 invalid inventory or limit, 3 some BMCs
could not be used.`,
		Example: `  bos power status 'x3000c0s[1-4]b0n0'
  bos power status compute -o json | jq -r '.nodes[] | select(.power_state == "Off") | .node'`,
		Args: cmdutil.OneLimit,
		RunE: func(c *cobra.Command, args []string) error {
			limit, err := cmdutil.LimitArg(args[0], f.IO.In)
			if err != nil {
				return err
			}
			opts.Limit = limit
			if runF != nil {
				return runF(opts)
			}
			return runCheck(opts)
		},
	}
	c.Flags().BoolVar(&opts.IncludeDisabled, "include-disabled", false, "also read nodes disabled in the inventory")
	addCheckSettingFlags(c)
	return c
}
