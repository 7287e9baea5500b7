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

// warningGroup is one warning and the nodes that met it, in plan order.
type warningGroup struct {
	text  string
	nodes []string
}

// warningGroups groups the nodes' warnings by text, the most widespread
// first: the same cause on a thousand nodes is one line.
func warningGroups(rec *session.Record) []warningGroup {
	byText := map[string]*warningGroup{}
	var groups []*warningGroup
	for _, node := range rec.Nodes {
		for _, text := range rec.NodeStates[node].Warnings {
			group, ok := byText[text]
			if !ok {
				group = &warningGroup{text: text}
				byText[text] = group
				groups = append(groups, group)
			}
			group.nodes = append(group.nodes, node)
		}
	}
	slices.SortStableFunc(groups, func(a, b *warningGroup) int {
		return cmp.Or(cmp.Compare(len(b.nodes), len(a.nodes)), cmp.Compare(a.text, b.text))
	})
	out := make([]warningGroup, len(groups))
	for i, group := range groups {
		out[i] = *group
	}
	return out
}

// printWarnings prints the session's warnings, grouped (nothing when
// there are none): how many nodes met each, which (hostlist-compressed),
// and the warning.
func printWarnings(w io.Writer, rec *session.Record) error {
	groups := warningGroups(rec)
	if len(groups) == 0 {
		return nil
	}
	lists := make([][]string, len(groups))
	for i, group := range groups {
		lists[i] = group.nodes
	}
	compressed := compressAll(lists)
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
