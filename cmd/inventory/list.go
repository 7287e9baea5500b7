package inventory

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/output"
)

// ListOptions are the flags of `bos inventory list`.
type ListOptions struct {
	Factory         *cmdutil.Factory
	Limit           string
	IncludeDisabled bool
}

// NewCmdList returns `bos inventory list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List inventory nodes with their BMC, role, groups and partition",
		Long: `List the inventory's nodes, after defaults and hostlist ranges are applied, in
inventory order, followed by a summary line with the node names
hostlist-compressed. Disabled nodes are left out unless --include-disabled, as
sessions leave them out. -o wide adds arch, MAC, user and auth; -o json and
-o yaml list every field except passwords, which bos never prints.`,
		Example: `  bos inventory list
  bos inventory list --limit 'Compute,&p1,!x3000c0s7b0n0'
  bos inventory list --limit 'x3000c0s[1-16]b0n0' --include-disabled -o wide
  bos inventory list -o json | jq -r '.[] | select(.role == "Compute") | .bmc.endpoint'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runList(opts)
		},
	}
	addSelectionFlags(c, &opts.Limit, &opts.IncludeDisabled)
	return c
}

func runList(opts *ListOptions) error {
	f := opts.Factory
	format, err := f.Format()
	if err != nil {
		return err
	}
	_, sel, err := selectNodes(f, opts.Limit, opts.IncludeDisabled)
	if err != nil {
		return err
	}
	if format.Structured() {
		nodes := sel.Nodes
		if nodes == nil {
			nodes = []inventory.Node{}
		}
		return output.Data(f.IO.Out, format, nodes)
	}
	wide := format == output.FormatWide
	header := []string{"name", "bmc", "system", "role", "groups", "partition", "enabled"}
	if wide {
		header = append(header, "arch", "mac", "user", "auth")
	}
	rows := make([][]string, 0, len(sel.Nodes))
	for _, n := range sel.Nodes {
		role := n.Role
		if n.SubRole != "" {
			role += "/" + n.SubRole
		}
		row := []string{n.Name, n.BMC.Endpoint, output.OrDash(n.BMC.System), output.OrDash(role),
			output.OrDash(strings.Join(n.Groups, ",")), output.OrDash(n.Partition), fmt.Sprint(n.Enabled)}
		if wide {
			row = append(row, output.OrDash(n.Arch), output.OrDash(n.MAC), output.OrDash(n.BMC.Username), output.OrDash(n.BMC.Auth))
		}
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		if err := output.Table(f.IO.Out, header, rows); err != nil {
			return err
		}
	}
	printSummary(f.IO.Out, sel)
	return nil
}

// printSummary is the line that says which nodes were shown, compressed so
// it stays one line for 10,000 nodes.
func printSummary(w io.Writer, sel *inventory.Selection) {
	line := fmt.Sprintf("%d nodes", len(sel.Nodes))
	if len(sel.Nodes) > 0 {
		line += ": " + hostlist.Compress(sel.Names())
	}
	if sel.Disabled > 0 {
		line += fmt.Sprintf(" (%d disabled not shown: --include-disabled)", sel.Disabled)
	}
	fmt.Fprintln(w, line)
}
