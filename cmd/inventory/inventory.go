// Package inventory implements `bos inventory`: list the nodes bos knows
// and check that their BMCs answer.
package inventory

import (
	"strings"

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

// selection is the nodes a command acts on, and how many enabled ones
// --include-disabled would add.
type selection struct {
	inventory *inventory.Inventory
	nodes     []inventory.Node
	disabled  int
}

// selectNodes loads the inventory and applies --limit and
// --include-disabled the way a session does, warning about limit terms that
// match nothing.
func selectNodes(f *cmdutil.Factory, limit string, includeDisabled bool) (*selection, error) {
	inv, err := f.Inventory()
	if err != nil {
		return nil, err
	}
	var limited map[string]bool
	// Only "" means no limit: a blank one is refused by ParseLimit.
	if limit != "" {
		l, err := inventory.ParseLimit(limit)
		if err != nil {
			return nil, err
		}
		names, unmatched := inv.Select(l)
		if len(unmatched) > 0 {
			f.Warnf("limit terms matched no node in %s: %s", inv.Path, strings.Join(unmatched, ", "))
		}
		limited = make(map[string]bool, len(names))
		for _, n := range names {
			limited[n] = true
		}
	}
	sel := &selection{inventory: inv}
	for _, n := range inv.Nodes {
		switch {
		case limited != nil && !limited[n.Name]:
		case !n.Enabled && !includeDisabled:
			sel.disabled++
		default:
			sel.nodes = append(sel.nodes, n)
		}
	}
	return sel, nil
}

// names lists the selected nodes' names in inventory order.
func (s *selection) names() []string {
	names := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		names[i] = n.Name
	}
	return names
}

// addSelectionFlags gives list and check the same node selection flags.
func addSelectionFlags(c *cobra.Command, limit *string, includeDisabled *bool) {
	c.Flags().StringVarP(limit, "limit", "l", "", "only these nodes (BOS limit syntax: names, ranges, groups, roles, partitions; ',' union, '&' intersection, '!' difference)")
	c.Flags().BoolVar(includeDisabled, "include-disabled", false, "also show nodes disabled in the inventory")
}
