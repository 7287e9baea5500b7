package session

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
)

type statusView struct {
	ID        string               `json:"id"`
	Operation string               `json:"operation"`
	Template  string               `json:"template"`
	Status    session.Status       `json:"status"`
	Phases    []session.PhaseCount `json:"phases"`
	Summary   session.Summary      `json:"summary"`
	nextSteps
}

func statusOf(rec *session.Record) statusView {
	return statusView{ID: rec.ID, Operation: rec.Operation, Template: rec.Template, Status: rec.Status,
		Phases: rec.PhaseCounts(), Summary: rec.Summary, nextSteps: nextStepsOf(rec)}
}

// StatusOptions are the flags of `bos session status`.
type StatusOptions struct {
	Factory *cmdutil.Factory
	ID      string
	Watch   bool
}

// NewCmdStatus returns `bos session status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Factory: f}
	c := &cobra.Command{
		Use:   "status ID",
		Short: "Show how many nodes of a session are where, per phase",
		Long: `Show a session's counts per phase and category. --watch prints them again as
they change until the session ends. Once it ended, what is left to do follows:
the nodes it left unfinished, where each stands, with the command that finishes
them, and the command that retries its failed nodes. The exit status is the
session's, as create would give it: 0 complete (or still running without
--watch), 3 nodes failed, 130 cancelled or interrupted.`,
		Example: `  bos session status 3f2a --watch`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runStatus(opts)
		},
	}
	c.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "print again on every change until the session ends")
	return c
}

func runStatus(opts *StatusOptions) error {
	f := opts.Factory
	format, store, err := f.ReadStore()
	if err != nil {
		return err
	}
	defer store.Close()
	var last string
	rec, err := store.Watch(f.Context, opts.ID, opts.Watch, func(rec *session.Record) error {
		view := statusOf(rec)
		if shown := fmt.Sprint(view.Status, view.Phases); shown != last {
			last = shown
			return printStatus(f.IO.Out, format, view)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return rec.Outcome()
}

func printStatus(w io.Writer, format output.Format, v statusView) error {
	if format.Structured() {
		return output.Data(w, format, v)
	}
	s := v.Summary
	fmt.Fprintf(w, "session %s: %s %s %s: %d nodes, %d succeeded, %d failed, %d excluded, %d pending (%s)\n",
		v.ID, v.Operation, v.Template, v.Status, s.Total, s.Succeeded, s.Failed, s.Excluded, s.Pending, s.Timing.Duration)
	categories := session.Categories()
	header := append([]string{"phase"}, categoryColumns(categories)...)
	rows := make([][]string, 0, len(v.Phases))
	for _, ph := range v.Phases {
		row := []string{string(ph.Phase)}
		for _, c := range categories {
			row = append(row, fmt.Sprint(ph.Counts[c]))
		}
		rows = append(rows, row)
	}
	if err := output.Table(w, header, rows); err != nil {
		return err
	}
	return v.nextSteps.print(w, true)
}

// categoryColumns are the column titles of categories.
func categoryColumns(categories []engine.Category) []string {
	titles := make([]string, len(categories))
	for i, c := range categories {
		titles[i] = string(c)
	}
	return titles
}

// LogsOptions are the flags of `bos session logs`.
type LogsOptions struct {
	Factory *cmdutil.Factory
	ID      string
	Follow  bool
}

// NewCmdLogs returns `bos session logs`.
func NewCmdLogs(f *cmdutil.Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{Factory: f}
	c := &cobra.Command{
		Use:     "logs ID",
		Short:   "Print a session's log: every node transition with its reason",
		Example: `  bos session logs 3f2a -f`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runLogs(opts)
		},
	}
	c.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines until the session ends")
	return c
}

func runLogs(opts *LogsOptions) error {
	f := opts.Factory
	store, err := f.Store()
	if err != nil {
		return err
	}
	defer store.Close()
	return store.FollowLog(f.Context, opts.ID, f.IO.Out, opts.Follow)
}
