package inventory

import (
	"fmt"
	"strings"
)

// LimitSet is the set of node names a --limit selects. The nil LimitSet,
// no --limit at all, holds every node.
type LimitSet map[string]bool

// Has reports whether the limit selects node name.
func (s LimitSet) Has(name string) bool { return s == nil || s[name] }

// ApplyLimit parses a --limit expression and resolves it against the
// inventory. Only "" means no limit (the nil set): a blank one is refused
// by ParseLimit. warning names the terms that matched no node, for the
// caller to pass on; it is "" when every term matched.
func (inv *Inventory) ApplyLimit(expr string) (selected LimitSet, warning string, err error) {
	if expr == "" {
		return nil, "", nil
	}
	limit, err := ParseLimit(expr)
	if err != nil {
		return nil, "", err
	}
	names, unmatched := inv.Select(limit)
	if len(unmatched) > 0 {
		warning = fmt.Sprintf("limit terms matched no node in %s: %s", inv.Path, strings.Join(unmatched, ", "))
	}
	selected = make(LimitSet, len(names))
	for _, n := range names {
		selected[n] = true
	}
	return selected, warning, nil
}

// Selection is the nodes a command that lists or checks the inventory
// itself acts on.
type Selection struct {
	Nodes []Node // in inventory order
	// Disabled counts the nodes of the limit left out as disabled: what
	// --include-disabled would add.
	Disabled int
	// Warning is ApplyLimit's.
	Warning string
}

// SelectNodes applies --limit and --include-disabled to the whole
// inventory, the way a session applies them to its boot sets' nodes.
func (inv *Inventory) SelectNodes(limit string, includeDisabled bool) (*Selection, error) {
	limited, warning, err := inv.ApplyLimit(limit)
	if err != nil {
		return nil, err
	}
	sel := &Selection{Warning: warning}
	for _, n := range inv.Nodes {
		switch {
		case !limited.Has(n.Name):
		case !n.Enabled && !includeDisabled:
			sel.Disabled++
		default:
			sel.Nodes = append(sel.Nodes, n)
		}
	}
	return sel, nil
}

// Names lists the selected nodes' names in inventory order.
func (s *Selection) Names() []string {
	names := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		names[i] = n.Name
	}
	return names
}

// SplitLastLimitTerm splits a limit expression being typed into what
// precedes its last term (earlier terms and the term's operator) and the
// term, for completion. A comma inside a hostlist range's brackets does
// not separate terms.
func SplitLastLimitTerm(expr string) (head, term string) {
	start, depth := 0, 0
	for i, r := range expr {
		switch r {
		case '[':
			depth++
		case ']':
			depth = max(0, depth-1)
		case ',':
			if depth == 0 {
				start = i + 1
			}
		}
	}
	if start < len(expr) && (expr[start] == '&' || expr[start] == '!') {
		start++
	}
	return expr[:start], expr[start:]
}

// NodeSet is a group, role, subrole or partition of the inventory: a name
// a limit term may use besides node names.
type NodeSet struct {
	Kind  string // group, role, subrole or partition
	Name  string
	Nodes int // how many nodes it holds
}

// NodeSets lists the inventory's groups, roles, subroles and partitions,
// in order of first appearance, with how many nodes each holds.
func (inv *Inventory) NodeSets() []NodeSet {
	var sets []NodeSet
	index := map[[2]string]int{}
	add := func(kind, name string) {
		if name == "" {
			return
		}
		key := [2]string{kind, name}
		if i, ok := index[key]; ok {
			sets[i].Nodes++
			return
		}
		index[key] = len(sets)
		sets = append(sets, NodeSet{Kind: kind, Name: name, Nodes: 1})
	}
	for _, n := range inv.Nodes {
		for _, g := range n.Groups {
			add("group", g)
		}
		add("role", n.Role)
		add("subrole", n.SubRole)
		add("partition", n.Partition)
	}
	return sets
}
