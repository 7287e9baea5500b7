// Package power implements `bos power`: on, off, reboot and status of a
// few nodes named on the command line, without a template. The commands
// live with what they run: sessions (cmd/session) and the BMC check
// (cmd/inventory).
package power

import (
	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	inventorycmd "github.com/bos-project/bos/cmd/inventory"
	sessioncmd "github.com/bos-project/bos/cmd/session"
	"github.com/bos-project/bos/internal/sessionrun"
)

// NewCmdPower returns `bos power` with its subcommands.
func NewCmdPower(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "power",
		Short: "Power some nodes on, off, reboot them or read their power state, without a template",
		Long: `Quick power actions on the nodes LIMIT names, as pm -1/-0/-c/-q (powerman) or
'ipmitool chassis power' do. on, off and reboot run a session of the boot,
shutdown or reboot operation with boot_method none (power only: no boot image,
the boot override left as it is), kept like any other session; status reads
each node's power state and changes nothing.

LIMIT is required (there is no default of every node): BOS limit syntax
(names, hostlist ranges, groups, roles, partitions, 'all'; ',' union,
'&' intersection, '!' difference), @FILE to read names or terms from a file
(one a line or comma separated, # comments), or - to read them from stdin.`,
		Example: `  bos power status 'x3000c0s[1-4]b0n0'
  bos power reboot x3000c0s7b0n0
  bos power off @drained.txt
  sinfo -h -N -t drain -o %N | bos power reboot -`,
	}
	for _, action := range sessionrun.PowerActions {
		c.AddCommand(sessioncmd.NewCmdPowerAction(f, action, nil))
	}
	c.AddCommand(inventorycmd.NewCmdPowerStatus(f, nil))
	return c
}
