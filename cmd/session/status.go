package session

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
)

// followPoll is how often status --watch and logs -f look again.
const followPoll = 200 * time.Millisecond

// phaseCounts is one line of `bos session status`.
type phaseCounts struct {
	Phase  engine.Phase            `json:"phase"`
	Counts map[engine.Category]int `json:"counts"`
}

type statusView struct {
	ID        string          `json:"id"`
	Operation string          `json:"operation"`
	Template  string          `json:"template"`
	Status    session.Status  `json:"status"`
	Phases    []phaseCounts   `json:"phases"`
	Summary   session.Summary `json:"summary"`
	nextSteps
}

func statusOf(rec *session.Record) statusView {
	v := statusView{ID: rec.ID, Operation: rec.Operation, Template: rec.Template, Status: rec.Status, Summary: rec.Summary,
		nextSteps: nextStepsOf(rec)}
	for _, phase := range rec.Phases {
		counts := map[engine.Category]int{}
		for _, bs := range rec.BootSets {
			for _, ph := range bs.Phases {
				if ph.Name == phase {
					for _, c := range ph.Categories {
						counts[c.Name] += len(c.NodeList)
					}
				}
			}
		}
		v.Phases = append(v.Phases, phaseCounts{Phase: phase, Counts: counts})
	}
	return v
}

// NewCmdStatus returns `bos session status`.
func NewCmdStatus(f *cmdutil.Factory) *cobra.Command {
	var watch bool
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
			format, store, err := f.ReadStore()
			if err != nil {
				return err
			}
			defer store.Close()
			var last string
			for {
				rec, err := store.Get(args[0])
				if err != nil {
					return err
				}
				view := statusOf(rec)
				if shown := fmt.Sprint(view.Status, view.Phases); shown != last {
					last = shown
					if err := printStatus(f.IO.Out, format, view); err != nil {
						return err
					}
				}
				if !watch || rec.Status != session.StatusRunning {
					return statusExit(rec)
				}
				select {
				case <-f.Context.Done():
					return f.Context.Err()
				case <-time.After(followPoll):
				}
			}
		},
	}
	c.Flags().BoolVarP(&watch, "watch", "w", false, "print again on every change until the session ends")
	return c
}

func statusExit(rec *session.Record) error {
	switch rec.Status {
	case session.StatusCancelled, session.StatusInterrupted:
		err := fmt.Errorf("session %s is %s", rec.ID, rec.Status)
		if rec.Error != "" {
			err = fmt.Errorf("%w: %s", err, rec.Error)
		}
		return &cmdutil.ExitError{Code: cmdutil.ExitInterrupted, Err: err}
	}
	return outcomeError(rec)
}

func printStatus(w io.Writer, format output.Format, v statusView) error {
	if format.Structured() {
		return output.Data(w, format, v)
	}
	s := v.Summary
	fmt.Fprintf(w, "session %s: %s %s %s: %d nodes, %d succeeded, %d failed, %d excluded, %d pending (%s)\n",
		v.ID, v.Operation, v.Template, v.Status, s.Total, s.Succeeded, s.Failed, s.Excluded, s.Pending, s.Timing.Duration)
	categories := []engine.Category{engine.NotStarted, engine.InProgress, engine.Succeeded, engine.Failed, engine.Excluded}
	header := []string{"phase"}
	for _, c := range categories {
		header = append(header, string(c))
	}
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
	return v.nextSteps.print(w)
}

// NewCmdLogs returns `bos session logs`.
func NewCmdLogs(f *cmdutil.Factory) *cobra.Command {
	var follow bool
	c := &cobra.Command{
		Use:     "logs ID",
		Short:   "Print a session's log: every node transition with its reason",
		Example: `  bos session logs 3f2a -f`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := f.Store()
			if err != nil {
				return err
			}
			defer store.Close()
			rec, err := store.Get(args[0])
			if err != nil {
				return err
			}
			log, err := os.Open(store.LogPath(rec.ID))
			if err != nil {
				return fmt.Errorf("session %s: open its log: %w", rec.ID, err)
			}
			defer log.Close()
			for {
				// Read what is there before asking whether it ended, so the
				// last lines are never missed.
				running := follow && store.Running(rec.ID)
				if _, err := io.Copy(f.IO.Out, log); err != nil {
					return fmt.Errorf("session %s: read its log: %w", rec.ID, err)
				}
				if !running {
					return nil
				}
				select {
				case <-f.Context.Done():
					return f.Context.Err()
				case <-time.After(followPoll):
				}
			}
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the session ends")
	return c
}
