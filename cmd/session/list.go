package session

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
)

// ListOptions are the flags of `bos session list`.
type ListOptions struct {
	Factory   *cmdutil.Factory
	Status    string
	Operation string
	Template  string
	MinAge    string
	MaxAge    string
}

// NewCmdList returns `bos session list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List sessions, newest first",
		Example: `  bos session list
  bos session list --status failed --max-age 24h
  bos session list --operation reboot --template compute -o json | jq -r '.[].id'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runList(opts)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opts.Status, "status", "", "only sessions in this status: "+statusNames())
	fl.StringVar(&opts.Operation, "operation", "", "only sessions of this operation")
	fl.StringVar(&opts.Template, "template", "", "only sessions of this template name")
	fl.StringVar(&opts.MinAge, "min-age", "", "only sessions started at least this long ago (e.g. 1h, 7d)")
	fl.StringVar(&opts.MaxAge, "max-age", "", "only sessions started at most this long ago (e.g. 1h, 7d)")
	return c
}

func runList(opts *ListOptions) error {
	filter := session.Filter{Status: session.Status(opts.Status), Operation: opts.Operation, Template: opts.Template}
	if opts.Status != "" && !slices.Contains(session.Statuses, filter.Status) {
		return cmdutil.UsageError("--status %q: choose one of %s", opts.Status, statusNames())
	}
	for _, age := range []struct {
		flag, val string
		dst       *time.Duration
	}{{"--min-age", opts.MinAge, &filter.MinAge}, {"--max-age", opts.MaxAge, &filter.MaxAge}} {
		if age.val == "" {
			continue
		}
		d, err := config.Duration(age.val)
		if err != nil {
			return cmdutil.UsageError("%s: %v", age.flag, err)
		}
		*age.dst = d
	}
	f := opts.Factory
	format, store, err := f.ReadStore()
	if err != nil {
		return err
	}
	defer store.Close()
	rows, err := store.List(filter)
	if err != nil {
		return err
	}
	if format.Structured() {
		if rows == nil {
			rows = []session.ListRow{}
		}
		return output.Data(f.IO.Out, format, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(f.IO.ErrOut, "no sessions")
		return nil
	}
	header := []string{"id", "template", "operation", "status", "started", "duration", "nodes", "succeeded", "failed", "warnings"}
	if format == output.FormatWide {
		header = append(header, "error")
	}
	table := make([][]string, 0, len(rows))
	for _, r := range rows {
		id := r.ID
		if format != output.FormatWide && len(id) > session.MinIDPrefix {
			id = id[:session.MinIDPrefix]
		}
		row := []string{id, r.Template, r.Operation, string(r.Status), output.Time(r.StartTime),
			output.Elapsed(r.StartTime, r.StopTime), fmt.Sprint(r.Nodes), fmt.Sprint(r.Succeeded), fmt.Sprint(r.Failed),
			fmt.Sprint(r.Warnings)}
		if format == output.FormatWide {
			row = append(row, r.Error)
		}
		table = append(table, row)
	}
	return output.Table(f.IO.Out, header, table)
}

// statusNames lists the statuses --status takes.
func statusNames() string {
	names := make([]string, len(session.Statuses))
	for i, s := range session.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
