package template

import "github.com/bos-project/bos/internal/inventory"

// Selection is what one boot set selects from an inventory.
type Selection struct {
	Count int      `json:"count"`
	Nodes []string `json:"nodes"` // in inventory order
	// Unmatched are names, groups and roles of the boot set that match no
	// node of the inventory.
	Unmatched []string `json:"unmatched,omitempty"`
}

// SelectNodes resolves every boot set's node fields (node_list,
// node_groups, node_roles_groups, kept to the template's partition)
// against inv, without disabled nodes unless includeDisabled. It is keyed
// by boot set name.
func (t *Template) SelectNodes(inv *inventory.Inventory, includeDisabled bool) map[string]*Selection {
	out := make(map[string]*Selection, len(t.BootSets))
	for name, bs := range t.BootSets {
		nodes, unmatched := inv.BootSetNodes(bs.NodeList, bs.NodeGroups, bs.NodeRolesGroups, t.Partition, includeDisabled)
		if nodes == nil {
			nodes = []string{}
		}
		out[name] = &Selection{Count: len(nodes), Nodes: nodes, Unmatched: unmatched}
	}
	return out
}
