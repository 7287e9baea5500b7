package session

import (
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
The table view shows the BOS v1 status tree (boot sets → phases → categories,
node lists hostlist-compressed), the failure reasons and the warnings (what
went wrong without failing a node, e.g. a boot not confirmed by the BMC);
-o wide adds one line per node. A session that ended with nodes left to do
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
	if err := printRecord(f.IO.Out, rec, format == output.FormatWide); err != nil {
		return err
	}
	return view.print(f.IO.Out)
}

func printRecord(w io.Writer, rec *session.Record, wide bool) error {
	s := rec.Summary
	fields := [][2]string{
		{"id", rec.ID},
		{"template", rec.Template + optional(" (", rec.TemplateFile, ")")},
		{"operation", rec.Operation},
		{"pace", rec.Pace},
		{"limit", output.OrDash(rec.Limit)},
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
	categories := session.Categories()
	header := append([]string{"boot set", "phase"}, categoryColumns(categories)...)
	// Node lists are gathered first and compressed together
	// (hostlist.CompressAll); cells hold their index in lists until then.
	var lists [][]string
	listCell := func(nodes []string) string {
		lists = append(lists, nodes)
		return ""
	}
	var rows, errorRows [][]string
	for _, bs := range rec.BootSets {
		for _, ph := range bs.Phases {
			row := []string{bs.Name, string(ph.Name)}
			byName := map[engine.Category][]string{}
			for _, c := range ph.Categories {
				byName[c.Name] = c.NodeList
			}
			for _, c := range categories {
				row = append(row, listCell(byName[c]))
			}
			rows = append(rows, row)
		}
		for _, r := range slices.Sorted(maps.Keys(bs.Errors)) {
			errorRows = append(errorRows, []string{bs.Name, fmt.Sprint(len(bs.Errors[r])), listCell(bs.Errors[r]), r})
		}
	}
	compressed := hostlist.CompressAll(lists)
	next := 0
	for _, row := range rows {
		for i := 2; i < len(row); i++ {
			row[i] = output.OrDash(compressed[next])
			next++
		}
	}
	for _, row := range errorRows {
		row[2] = compressed[next]
		next++
	}
	if err := output.Table(w, header, rows); err != nil {
		return err
	}

	if len(s.ErrorSummary) > 0 {
		fmt.Fprintln(w)
		if err := output.Table(w, []string{"boot set", "failed", "nodes", "reason"}, errorRows); err != nil {
			return err
		}
	}
	if err := printWarnings(w, rec); err != nil {
		return err
	}

	if wide {
		fmt.Fprintln(w)
		rows = rows[:0]
		for _, n := range rec.Nodes {
			st := rec.NodeStates[n]
			rows = append(rows, []string{n, st.BootSet, string(st.Phase), string(st.Category),
				output.OrDash(string(st.Action)), output.Time(st.Time), output.OrDash(st.Reason), joinWarnings(st.Warnings)})
		}
		return output.Table(w, []string{"node", "boot set", "phase", "category", "last action", "time", "reason", "warnings"}, rows)
	}
	return nil
}

func optional(prefix, s, suffix string) string {
	if s == "" {
		return ""
	}
	return prefix + s + suffix
}
