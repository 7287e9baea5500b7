package inventory

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bos-project/bos/internal/exitcode"
	"github.com/bos-project/bos/internal/hostlist"
)

// ErrInvalidLimit is matched by every error ParseLimit returns.
var ErrInvalidLimit = exitcode.New(exitcode.Invalid, "invalid limit")

// ErrEmptyLimit is a limit that was given but names nothing (blank, or only
// commas); it matches ErrInvalidLimit too. It is refused rather than read
// as no limit: a script passing --limit "$NODES" with NODES unset must
// never act on the whole fleet.
var ErrEmptyLimit error = emptyLimitError{}

type emptyLimitError struct{}

func (emptyLimitError) Error() string {
	return "--limit is empty: give node names, groups or 'all' (an empty limit would select every node)"
}

func (emptyLimitError) Unwrap() error { return ErrInvalidLimit }

// Limit is a parsed BOS limit expression: comma-separated terms folded left
// to right, "x" adding, "&x" intersecting and "!x" removing nodes. A term is
// all or *, a node name, a hostlist range, a group, a role or subrole
// (case-insensitive, as HSM treats them) or a partition.
//
// Unlike BOS, a limit that starts with "&x" or "!x" starts from every node
// rather than from none: in BOS such a limit always selects nothing, which
// is never what was meant ("!x1000c0s0b0n0" means "all but that node").
type Limit struct {
	// Expr is the expression as given.
	Expr  string
	terms []limitTerm
}

type limitTerm struct {
	op      byte // '+' union, '&' intersection, '!' difference
	written string
	body    string
	// isRange marks hostlist ranges, expanded only when selecting.
	isRange bool
}

// ParseLimit checks the syntax of a limit expression.
func ParseLimit(expr string) (*Limit, error) {
	if strings.Trim(expr, ", \t\r\n") == "" {
		return nil, ErrEmptyLimit
	}
	items, err := hostlist.Split(expr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidLimit, expr, err)
	}
	l := &Limit{Expr: expr}
	for i, item := range items {
		t := limitTerm{op: '+', written: item, body: item}
		if item[0] == '&' || item[0] == '!' {
			t.op, t.body = item[0], strings.TrimSpace(item[1:])
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("%w %q: term %d %q: %w", ErrInvalidLimit, expr, i+1, item, err)
		}
		l.terms = append(l.terms, t)
	}
	return l, nil
}

func (t *limitTerm) check() error {
	switch {
	case t.body == "":
		return errors.New("nothing after the operator")
	case strings.ContainsAny(t.body, "&!"):
		return errors.New("& and ! go at the start of a term, after a comma: a,&b,!c")
	case strings.ContainsAny(t.body, " \t\r\n"):
		return errors.New("blanks inside a term: separate terms with commas")
	case strings.ContainsAny(t.body, "[]"):
		if _, err := hostlist.Count(t.body); err != nil {
			return err
		}
		t.isRange = true
	}
	return nil
}

// Select returns the nodes a limit selects, in inventory order, and the
// terms (as written) that matched no node, for the caller to warn about.
// Disabled nodes are included; dropping them is BootSetNodes' job.
func (inv *Inventory) Select(l *Limit) (names []string, unmatched []string) {
	selected := make([]bool, len(inv.Nodes))
	if len(l.terms) > 0 && l.terms[0].op != '+' {
		for i := range selected {
			selected[i] = true
		}
	}
	for _, t := range l.terms {
		matched := inv.matchTerm(t)
		if !anyTrue(matched) {
			unmatched = append(unmatched, t.written)
		}
		for i, m := range matched {
			switch t.op {
			case '+':
				selected[i] = selected[i] || m
			case '&':
				selected[i] = selected[i] && m
			case '!':
				selected[i] = selected[i] && !m
			}
		}
	}
	return inv.namesOf(selected), unmatched
}

func (inv *Inventory) matchTerm(t limitTerm) []bool {
	matched := make([]bool, len(inv.Nodes))
	if t.isRange {
		names, _ := hostlist.Expand(t.body) // checked by ParseLimit
		inv.markNames(matched, names)
		return matched
	}
	if t.body == "all" || t.body == "*" {
		for i := range matched {
			matched[i] = true
		}
		return matched
	}
	inv.markNames(matched, []string{t.body})
	for i, n := range inv.Nodes {
		matched[i] = matched[i] || n.Partition == t.body || hasRole(n, t.body) || hasGroup(n, t.body)
	}
	return matched
}

// markNames marks the named nodes and returns the names not in the inventory.
func (inv *Inventory) markNames(marks []bool, names []string) (missing []string) {
	if inv.index == nil {
		inv.buildIndex()
	}
	for _, name := range names {
		if i, ok := inv.index[name]; ok {
			marks[i] = true
		} else {
			missing = append(missing, name)
		}
	}
	return missing
}

func hasRole(n Node, role string) bool {
	return n.Role != "" && strings.EqualFold(n.Role, role) || n.SubRole != "" && strings.EqualFold(n.SubRole, role)
}

func hasGroup(n Node, group string) bool {
	for _, g := range n.Groups {
		if g == group {
			return true
		}
	}
	return false
}

func anyTrue(marks []bool) bool {
	for _, m := range marks {
		if m {
			return true
		}
	}
	return false
}

func (inv *Inventory) namesOf(marks []bool) []string {
	var names []string
	for i, m := range marks {
		if m {
			names = append(names, inv.Nodes[i].Name)
		}
	}
	return names
}

// BootSetNodes resolves a boot set's node fields: the union of node_list
// (names or hostlist ranges), node_groups and node_roles_groups (roles or
// subroles), kept to partition when it is not empty, without disabled nodes
// unless includeDisabled. names are in inventory order. unknown lists what
// matched nothing: node names not in the inventory (each name of a range),
// entries that are not valid hostlists, and groups or roles without nodes.
func (inv *Inventory) BootSetNodes(nodeList, nodeGroups, nodeRolesGroups []string, partition string, includeDisabled bool) (names []string, unknown []string) {
	selected := make([]bool, len(inv.Nodes))
	for _, entry := range nodeList {
		expanded, err := hostlist.Expand(entry)
		if err != nil {
			unknown = append(unknown, entry)
			continue
		}
		unknown = append(unknown, inv.markNames(selected, expanded)...)
	}
	unknown = append(unknown, inv.markMembers(selected, nodeGroups, hasGroup)...)
	unknown = append(unknown, inv.markMembers(selected, nodeRolesGroups, hasRole)...)
	for i, n := range inv.Nodes {
		if partition != "" && n.Partition != partition || !includeDisabled && !n.Enabled {
			selected[i] = false
		}
	}
	return inv.namesOf(selected), unknown
}

// markMembers marks nodes that belong to any of sets and returns the sets
// that have no member.
func (inv *Inventory) markMembers(marks []bool, sets []string, member func(Node, string) bool) (empty []string) {
	for _, set := range sets {
		found := false
		for i, n := range inv.Nodes {
			if member(n, set) {
				marks[i], found = true, true
			}
		}
		if !found {
			empty = append(empty, set)
		}
	}
	return empty
}
