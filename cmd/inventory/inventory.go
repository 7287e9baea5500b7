// Package inventory implements `bos inventory`: list the nodes bos knows
// and check that their BMCs answer.
package inventory

import (
	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/inventory"
)

// NewCmdInventory returns `bos inventory` with its subcommands.
func NewCmdInventory(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:     "inventory",
		Aliases: []string{"inv"},
		Short:   "List the inventory's nodes and check their BMCs",
		Long: `The inventory (--inventory, BOS_INVENTORY, default inventory.yaml next to the
config) replaces Cray's HSM: every node, its Redfish BMC and credentials, role,
groups and partition. Node selection uses BOS limit syntax: comma-separated
terms folded left, "x" union, "&x" intersection, "!x" difference; a term is
all, a node name, a hostlist range, a group, a role or a partition.`,
		Example: `  bos inventory list --limit 'Compute,&p1'
  bos inventory check --limit 'x3000c0s[1-16]b0n0'`,
	}
	c.AddCommand(
		NewCmdList(f, nil),
		NewCmdCheck(f, nil),
	)
	return c
}

// selectNodes loads the inventory and applies --limit and
// --include-disabled the way a session does, warning about limit terms that
// match nothing.
func selectNodes(f *cmdutil.Factory, limit string, includeDisabled bool) (*inventory.Inventory, *inventory.Selection, error) {
	inv, err := f.Inventory()
	if err != nil {
		return nil, nil, err
	}
	sel, err := inv.SelectNodes(limit, includeDisabled)
	if err != nil {
		return nil, nil, err
	}
	if sel.Warning != "" {
		f.Warnf("%s", sel.Warning)
	}
	return inv, sel, nil
}

// addSelectionFlags gives list and check the same node selection flags.
func addSelectionFlags(c *cobra.Command, limit *string, includeDisabled *bool) {
	c.Flags().StringVarP(limit, "limit", "l", "", "only these nodes (BOS limit syntax: names, ranges, groups, roles, partitions; ',' union, '&' intersection, '!' difference)")
	c.Flags().BoolVar(includeDisabled, "include-disabled", false, "also show nodes disabled in the inventory")
}
