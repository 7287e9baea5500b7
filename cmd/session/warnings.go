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
// there are none): how many nodes met each, with lists which
// (hostlist-compressed), and the warning.
func printWarnings(w io.Writer, rec *session.Record, lists bool) error {
	groups := rec.WarningGroups()
	if len(groups) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nwarnings: %s\n", nodeCount(rec.Summary.Warnings))
	return printGroups(w, groups, lists, nil, nil, "warning")
}

// printFailures prints why the failed nodes of rec failed: one line per
// phase and reason, with how many nodes and which (hostlist-compressed).
func printFailures(w io.Writer, rec *session.Record, failed []string) error {
	groups := rec.FailureGroups(failed)
	return printGroups(w, groups, true, []string{"phase"}, func(i int) []string { return []string{string(groups[i].Phase)} }, "reason")
}

// printGroups prints one row per group: its node count, with lists its
// nodes (hostlist-compressed), the columns before gives for group i, and
// its text. Without lists the row stays within a screen at any fleet
// size: a long text is wrapped.
func printGroups(w io.Writer, groups []session.NodeGroup, lists bool, before []string, cells func(i int) []string, text string) error {
	header := []string{"nodes"}
	if lists {
		header = append(header, "node list")
	}
	header = append(append(header, before...), text)
	var compressed []string
	if lists {
		nodes := make([][]string, len(groups))
		for i, group := range groups {
			nodes[i] = group.Nodes
		}
		compressed = hostlist.CompressAll(nodes)
	}
	rows := make([][]string, len(groups))
	for i, group := range groups {
		row := []string{fmt.Sprint(len(group.Nodes))}
		if lists {
			row = append(row, compressed[i])
		}
		if cells != nil {
			row = append(row, cells(i)...)
		}
		if lists {
			row = append(row, group.Text)
		} else {
			row = append(row, output.Wrap(group.Text, maxCell))
		}
		rows[i] = row
	}
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
