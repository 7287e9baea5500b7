package session

import (
	"fmt"
	"io"
	"strings"

	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
)

// printWarnings prints the session's warnings, grouped (nothing when
// there are none): how many nodes met each, which (hostlist-compressed),
// and the warning.
func printWarnings(w io.Writer, rec *session.Record) error {
	groups := rec.WarningGroups()
	if len(groups) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nwarnings: %s\n", nodeCount(rec.Summary.Warnings))
	return printGroups(w, groups, "warning", func(group session.NodeGroup) []string { return []string{group.Text} })
}

// printFailures prints why the failed nodes of rec failed: one line per
// phase and reason, with how many nodes and which (hostlist-compressed).
func printFailures(w io.Writer, rec *session.Record, failed []string) error {
	return printGroups(w, rec.FailureGroups(failed), "phase", func(group session.NodeGroup) []string {
		return []string{string(group.Phase), group.Text}
	}, "reason")
}

// printGroups prints one row per group: its node count, its nodes
// (hostlist-compressed) and the columns what gives.
func printGroups(w io.Writer, groups []session.NodeGroup, column string, what func(session.NodeGroup) []string, more ...string) error {
	lists := make([][]string, len(groups))
	for i, group := range groups {
		lists[i] = group.Nodes
	}
	compressed := hostlist.CompressAll(lists)
	rows := make([][]string, len(groups))
	for i, group := range groups {
		rows[i] = append([]string{fmt.Sprint(len(group.Nodes)), compressed[i]}, what(group)...)
	}
	header := append([]string{"nodes", "node list", column}, more...)
	return output.Table(w, header, rows)
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
	return output.OrDash(strings.Join(warnings, "; "))
}
