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
	lists := make([][]string, len(groups))
	for i, group := range groups {
		lists[i] = group.Nodes
	}
	compressed := hostlist.CompressAll(lists)
	rows := make([][]string, len(groups))
	for i, group := range groups {
		rows[i] = []string{fmt.Sprint(len(group.Nodes)), compressed[i], group.Text}
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
	return output.OrDash(strings.Join(warnings, "; "))
}
