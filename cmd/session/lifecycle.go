package session

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/sessionrun"
)

// detach hands session id, already started (record written, nodes
// reserved, lock held), to a background `bos session run-detached`
// (sessionrun.SpawnDetached) and prints the id.
func detach(f *cmdutil.Factory, env *sessionEnv, id string, forwarded []string) error {
	args := append([]string{"session", "run-detached", id, "--lock-fd", strconv.Itoa(sessionrun.DetachedLockFD)}, forwarded...)
	if err := sessionrun.SpawnDetached(env.store, id, args); err != nil {
		return errors.Join(fmt.Errorf("session %s: start its background process: %w", id, err), env.store.Delete(id, true))
	}
	if env.format.Structured() {
		return output.Data(f.IO.Out, env.format, map[string]string{"id": id})
	}
	fmt.Fprintln(f.IO.Out, id)
	return nil
}

// forwardedFlags are the flags given to create, resume or retry that a
// detached run needs: the settings, global and of the run.
func forwardedFlags(c *cobra.Command) []string {
	var args []string
	c.Flags().Visit(func(fl *pflag.Flag) {
		setting := cmdutil.SetsConfigKey(fl) || c.Root().PersistentFlags().Lookup(fl.Name) != nil
		// The child's stdout is the session log: it prints for people.
		if fl.Name == "output" || !setting {
			return
		}
		if slice, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range slice.GetSlice() {
				args = append(args, "--"+fl.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+fl.Name+"="+fl.Value.String())
	})
	return args
}

// RunDetachedOptions are the arguments of the hidden `bos session
// run-detached`.
type RunDetachedOptions struct {
	Factory *cmdutil.Factory
	ID      string
	LockFD  int
}

// NewCmdRunDetached returns the hidden `bos session run-detached`, the
// background half of create --detach and resume --detach.
func NewCmdRunDetached(f *cmdutil.Factory, runF func(*RunDetachedOptions) error) *cobra.Command {
	opts := &RunDetachedOptions{Factory: f}
	c := &cobra.Command{
		Use:    "run-detached ID",
		Short:  "Run a started session in this process (used by --detach)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runDetached(opts)
		},
	}
	c.Flags().IntVar(&opts.LockFD, "lock-fd", sessionrun.DetachedLockFD, "descriptor of the inherited session lock")
	addRunFlags(c)
	return c
}

func runDetached(opts *RunDetachedOptions) error {
	f := opts.Factory
	env, err := newSessionEnv(f)
	if err != nil {
		return err
	}
	defer env.store.Close()
	lock := os.NewFile(uintptr(opts.LockFD), "session lock")
	if lock == nil {
		return fmt.Errorf("session %s: no session lock on descriptor %d", opts.ID, opts.LockFD)
	}
	if err := env.store.AdoptLock(opts.ID, lock); err != nil {
		return err
	}
	return env.follow("", "session "+opts.ID, nil, 0, func(runner *sessionrun.Runner) (*session.Record, error) {
		return runner.RunStored(f.Context, opts.ID)
	})
}

// ResumeOptions are the flags of `bos session resume`.
type ResumeOptions struct {
	Factory   *cmdutil.Factory
	ID        string
	Detach    bool
	forwarded []string
}

// NewCmdResume returns `bos session resume`.
func NewCmdResume(f *cmdutil.Factory, runF func(*ResumeOptions) error) *cobra.Command {
	opts := &ResumeOptions{Factory: f}
	c := &cobra.Command{
		Use:   "resume ID",
		Short: "Continue an interrupted session where its process left it",
		Long: `Continue a session whose bos process died (it shows as interrupted), under the
same id and history. Finished nodes stay finished; a node caught mid-action has
its power state read again, so it is not reset a second time needlessly. The
engine settings are this invocation's (config, environment and flags).
A running session is refused (exit 4); a finished one cannot be resumed: use
'bos session retry ID' for its failed nodes.`,
		Example: `  bos session resume 3f2a
  bos session resume 3f2a --detach`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID, opts.forwarded = args[0], forwardedFlags(c)
			if runF != nil {
				return runF(opts)
			}
			return runResume(opts)
		},
	}
	c.Flags().BoolVar(&opts.Detach, "detach", false, "continue it in a background bos process and print its id")
	addRunFlags(c)
	return c
}

func runResume(opts *ResumeOptions) error {
	f := opts.Factory
	env, err := newSessionEnv(f)
	if err != nil {
		return err
	}
	defer env.store.Close()
	rec, err := env.store.Get(opts.ID)
	if err != nil {
		return err
	}
	if opts.Detach {
		if rec.Status != session.StatusInterrupted {
			return fmt.Errorf("resume session %s: it is %s: %w", rec.ID, rec.Status, sessionrun.ErrNotResumable)
		}
		if err := env.store.Acquire(f.Context, rec.ID); err != nil {
			return err
		}
		if err := env.store.ClearCancelRequest(rec.ID); err != nil {
			return err
		}
		return detach(f, env, rec.ID, opts.forwarded)
	}
	return env.follow(rec.TemplateFile, fmt.Sprintf("%s %s", rec.Operation, rec.Template), rec.Phases, len(rec.Nodes),
		func(runner *sessionrun.Runner) (*session.Record, error) { return runner.Resume(f.Context, rec.ID) })
}

// CancelOptions are the flags of `bos session cancel`.
type CancelOptions struct {
	Factory *cmdutil.Factory
	ID      string
	Wait    time.Duration
}

// NewCmdCancel returns `bos session cancel`.
func NewCmdCancel(f *cmdutil.Factory, runF func(*CancelOptions) error) *cobra.Command {
	opts := &CancelOptions{Factory: f}
	c := &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a session cleanly: no new actions, BMC sessions logged out, reservations released",
		Long: `Cancel a running session: its process (this or another one, foreground or
detached) starts no new action, logs out of every BMC, records its unfinished
nodes with reason "cancelled" and releases their reservation. cancel waits for
that (up to --wait). An interrupted session is marked cancelled at once.`,
		Example: `  bos session cancel 3f2a`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runCancel(opts)
		},
	}
	c.Flags().DurationVar(&opts.Wait, "wait", time.Minute, "how long to wait for the session's process to stop")
	return c
}

func runCancel(opts *CancelOptions) error {
	f := opts.Factory
	env, err := newSessionEnv(f)
	if err != nil {
		return err
	}
	defer env.store.Close()
	rec, err := env.runner.Cancel(f.Context, opts.ID, opts.Wait)
	if err != nil {
		return err
	}
	if env.format.Structured() {
		return output.Data(f.IO.Out, env.format, rec)
	}
	fmt.Fprintf(f.IO.Out, "session %s cancelled: %d nodes, %d succeeded, %d failed, %d left unfinished\n",
		rec.ID, rec.Summary.Total, rec.Summary.Succeeded, rec.Summary.Failed, rec.Summary.Pending)
	return nil
}

// RetryOptions are the flags of `bos session retry`.
type RetryOptions struct {
	Factory *cmdutil.Factory
	ID      string
	Create  CreateOptions
}

// NewCmdRetry returns `bos session retry`.
func NewCmdRetry(f *cmdutil.Factory, runF func(*RetryOptions) error) *cobra.Command {
	opts := &RetryOptions{Factory: f, Create: CreateOptions{Factory: f}}
	c := &cobra.Command{
		Use:   "retry ID",
		Short: "Run a new session on the failed nodes of a session",
		Long: `Create a new session with the same template, operation and pace as session ID,
limited to the nodes that failed in it.`,
		Example: `  bos session retry 3f2a
  bos session retry 3f2a --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID, opts.Create.forwarded = args[0], forwardedFlags(c)
			if runF != nil {
				return runF(opts)
			}
			return runRetry(opts)
		},
	}
	c.Flags().BoolVar(&opts.Create.DryRun, "dry-run", false, "print the plan and touch no BMC")
	c.Flags().BoolVar(&opts.Create.Detach, "detach", false, "print the new session's id at once and run it in the background")
	addRunFlags(c)
	return c
}

func runRetry(opts *RetryOptions) error {
	store, err := opts.Factory.Store()
	if err != nil {
		return err
	}
	rec, err := store.Get(opts.ID)
	store.Close()
	if err != nil {
		return err
	}
	var failed []string
	for _, nodes := range failedByBootSet(rec) {
		failed = append(failed, nodes...)
	}
	if len(failed) == 0 {
		return fmt.Errorf("session %s (%s) has no failed nodes to retry", rec.ID, rec.Status)
	}
	create := opts.Create
	create.TemplateRef = rec.Template
	if _, err := os.Stat(rec.TemplateFile); rec.TemplateFile != "" && err == nil {
		create.TemplateRef = rec.TemplateFile
	}
	create.Operation, create.Pace = rec.Operation, rec.Pace
	create.Limit = sessionrun.RetryLimit(failed)
	return runCreate(&create)
}
