package session

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
)

// nodeGroup is what some nodes met alike (a warning; a failure, in its
// phase) and those nodes, in plan order.
type nodeGroup struct {
	phase string // a failure's phase; "" for a warning
	text  string
	nodes []string
}

// groupNodes groups nodes by what met says each met, the most widespread
// first: the same cause on a thousand nodes is one line.
func groupNodes(nodes []string, met func(node string) []nodeGroup) []nodeGroup {
	type key struct{ phase, text string }
	byKey := map[key]*nodeGroup{}
	var groups []*nodeGroup
	for _, node := range nodes {
		for _, m := range met(node) {
			group, ok := byKey[key{m.phase, m.text}]
			if !ok {
				group = &nodeGroup{phase: m.phase, text: m.text}
				byKey[key{m.phase, m.text}] = group
				groups = append(groups, group)
			}
			group.nodes = append(group.nodes, node)
		}
	}
	slices.SortStableFunc(groups, func(a, b *nodeGroup) int {
		return cmp.Or(cmp.Compare(len(b.nodes), len(a.nodes)), cmp.Compare(a.phase, b.phase), cmp.Compare(a.text, b.text))
	})
	out := make([]nodeGroup, len(groups))
	for i, group := range groups {
		out[i] = *group
	}
	return out
}

// warningGroups groups the nodes' warnings by text.
func warningGroups(rec *session.Record) []nodeGroup {
	return groupNodes(rec.Nodes, func(node string) []nodeGroup {
		warnings := rec.NodeStates[node].Warnings
		met := make([]nodeGroup, len(warnings))
		for i, text := range warnings {
			met[i] = nodeGroup{text: text}
		}
		return met
	})
}

// printFailures prints why failed, nodes of rec, failed: one line per
// phase and reason, with how many nodes and which (hostlist-compressed).
func printFailures(w io.Writer, rec *session.Record, failed []string) error {
	groups := groupNodes(failed, func(node string) []nodeGroup {
		st := rec.NodeStates[node]
		return []nodeGroup{{phase: string(st.Phase), text: st.Reason}}
	})
	compressed := compressAll(groupLists(groups))
	rows := make([][]string, len(groups))
	for i, group := range groups {
		rows[i] = []string{fmt.Sprint(len(group.nodes)), compressed[i], group.phase, group.text}
	}
	return output.Table(w, []string{"nodes", "node list", "phase", "reason"}, rows)
}

// groupLists are the groups' node lists.
func groupLists(groups []nodeGroup) [][]string {
	lists := make([][]string, len(groups))
	for i, group := range groups {
		lists[i] = group.nodes
	}
	return lists
}

// printWarnings prints the session's warnings, grouped (nothing when
// there are none): how many nodes met each, which (hostlist-compressed),
// and the warning.
func printWarnings(w io.Writer, rec *session.Record) error {
	groups := warningGroups(rec)
	if len(groups) == 0 {
		return nil
	}
	compressed := compressAll(groupLists(groups))
	rows := make([][]string, len(groups))
	for i, group := range groups {
		rows[i] = []string{fmt.Sprint(len(group.nodes)), compressed[i], group.text}
	}
	fmt.Fprintf(w, "\nwarnings: %s\n", nodeCount(rec.Summary.Warnings))
	return output.Table(w, []string{"nodes", "node list", "warning"}, rows)
}

// nodeCount is "1 node" or "N nodes".
func nodeCount(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}

// joinWarnings is a node's warnings in one table cell.
func joinWarnings(warnings []string) string {
	return orDash(strings.Join(warnings, "; "))
}
