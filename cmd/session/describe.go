package session

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
)

// DescribeOptions are the arguments of `bos session describe`.
type DescribeOptions struct {
	Factory *cmdutil.Factory
	ID      string
}

// NewCmdDescribe returns `bos session describe` (alias show).
func NewCmdDescribe(f *cmdutil.Factory, runF func(*DescribeOptions) error) *cobra.Command {
	opts := &DescribeOptions{Factory: f}
	return &cobra.Command{
		Use:     "describe ID",
		Aliases: []string{"show"},
		Short:   "Show a session: per boot set and phase, which nodes are where, and why nodes failed",
		Long: `Show one session. ID may be any unique prefix of the session id.
The table view shows the BOS v1 status tree (boot sets → phases → categories)
as node counts, the failures grouped by reason and the warnings (what went
wrong without failing a node, e.g. a boot not confirmed by the BMC), each
with its count: it fits a screen at any fleet size. -o wide adds their node
lists, hostlist-compressed, and one line per node. A session that ended with nodes left to do
ends with them: the unfinished nodes (where each stands, with its last power
action and power state) and the command that finishes them, and the command
that retries the failed nodes with the session's own inputs. -o json prints
the whole record with retry_command, unfinished and finish_command (see
docs/session-record.md).`,
		Example: `  bos session describe 3f2a
  bos session describe 3f2a -o wide
  bos session describe 3f2a -o json | jq '.summary'`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runDescribe(opts)
		},
	}
}

func runDescribe(opts *DescribeOptions) error {
	f := opts.Factory
	format, store, err := f.ReadStore()
	if err != nil {
		return err
	}
	defer store.Close()
	rec, err := store.Get(opts.ID)
	if err != nil {
		return err
	}
	view := viewOf(rec)
	if format.Structured() {
		return output.Data(f.IO.Out, format, view)
	}
	wide := format == output.FormatWide
	if err := printRecord(f.IO.Out, rec, wide); err != nil {
		return err
	}
	return view.print(f.IO.Out, wide)
}

// printRecord prints a session for people. The default table fits a
// screen at any fleet size: the status tree as counts, the failures and
// warnings grouped by reason with their counts. wide adds their node
// lists, hostlist-compressed, and a line per node.
func printRecord(w io.Writer, rec *session.Record, wide bool) error {
	s := rec.Summary
	limit := output.OrDash(rec.Limit)
	if !wide {
		limit = output.Clip(limit, maxCell, "-o wide shows it whole")
	}
	fields := [][2]string{
		{"id", rec.ID},
		{"template", rec.Template + optional(" (", rec.TemplateFile, ")")},
		{"operation", rec.Operation},
		{"pace", rec.Pace},
		{"limit", limit},
		{"status", string(rec.Status)},
		{"started", output.Time(rec.StartTime)},
		{"duration", output.Elapsed(rec.StartTime, rec.StopTime)},
		{"nodes", fmt.Sprintf("%d: %d succeeded (%.1f%%), %d failed (%.1f%%), %d excluded, %d pending",
			s.Total, s.Succeeded, s.PercentSuccessful, s.Failed, s.PercentFailed, s.Excluded, s.Pending)},
	}
	if rec.Error != "" {
		fields = append(fields, [2]string{"error", rec.Error})
	}
	for _, note := range rec.Notes {
		fields = append(fields, [2]string{"note", note})
	}
	for _, kv := range fields {
		fmt.Fprintf(w, "%-10s %s\n", kv[0]+":", kv[1])
	}

	fmt.Fprintln(w)
	if err := printTree(w, rec, wide); err != nil {
		return err
	}
	if err := printErrors(w, rec, wide); err != nil {
		return err
	}
	if err := printWarnings(w, rec, wide); err != nil {
		return err
	}

	if wide {
		fmt.Fprintln(w)
		rows := make([][]string, 0, len(rec.Nodes))
		for _, n := range rec.Nodes {
			st := rec.NodeStates[n]
			rows = append(rows, []string{n, st.BootSet, string(st.Phase), string(st.Category),
				output.OrDash(string(st.Action)), output.Time(st.Time), output.OrDash(st.Reason), joinWarnings(st.Warnings)})
		}
		return output.Table(w, []string{"node", "boot set", "phase", "category", "last action", "time", "reason", "warnings"}, rows)
	}
	return nil
}

// maxCell is the widest a text cell of a default table grows before it is
// wrapped or clipped: with the columns beside it, a line stays within 200
// characters.
const maxCell = 120

// printTree prints the BOS v1 status tree, a row per boot set and phase:
// how many nodes stand in each category or, wide, which.
func printTree(w io.Writer, rec *session.Record, wide bool) error {
	categories := session.Categories()
	header := append([]string{"boot set", "phase"}, categoryColumns(categories)...)
	var rows, lists [][]string
	for _, bs := range rec.BootSets {
		for _, ph := range bs.Phases {
			row := []string{bs.Name, string(ph.Name)}
			byName := map[engine.Category][]string{}
			for _, c := range ph.Categories {
				byName[c.Name] = c.NodeList
			}
			for _, c := range categories {
				row = append(row, fmt.Sprint(len(byName[c])))
				lists = append(lists, byName[c])
			}
			rows = append(rows, row)
		}
	}
	if wide {
		// Compressed together (hostlist.CompressAll), in the order the
		// cells were filled.
		compressed := hostlist.CompressAll(lists)
		for i, row := range rows {
			for j := range categories {
				row[2+j] = output.OrDash(compressed[i*len(categories)+j])
			}
		}
	}
	return output.Table(w, header, rows)
}

// printErrors prints why nodes failed: a row per boot set and reason, the
// most widespread first, with how many nodes and, wide, which.
func printErrors(w io.Writer, rec *session.Record, wide bool) error {
	if len(rec.Summary.ErrorSummary) == 0 {
		return nil
	}
	var groups []session.NodeGroup
	var bootSets []string
	for _, bs := range rec.BootSets {
		reasons := slices.SortedFunc(maps.Keys(bs.Errors), func(a, b string) int {
			return cmp.Or(cmp.Compare(len(bs.Errors[b]), len(bs.Errors[a])), cmp.Compare(a, b))
		})
		for _, r := range reasons {
			groups = append(groups, session.NodeGroup{Text: r, Nodes: bs.Errors[r]})
			bootSets = append(bootSets, bs.Name)
		}
	}
	fmt.Fprintf(w, "\nfailed: %s\n", nodeCount(rec.Summary.Failed))
	return printGroups(w, groups, wide, []string{"boot set"}, func(i int) []string { return []string{bootSets[i]} }, "reason")
}

func optional(prefix, s, suffix string) string {
	if s == "" {
		return ""
	}
	return prefix + s + suffix
}
