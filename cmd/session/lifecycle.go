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
	"github.com/bos-project/bos/internal/config"
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

// givenInputs are the inputs of a session that command line c gives
// explicitly, which win over those the session ran with.
func givenInputs(c *cobra.Command) sessionrun.Given {
	given := map[string]bool{}
	for _, s := range config.SettingsIn(config.SessionRun) {
		given[s.Key] = c.Flags().Changed(s.Flag)
	}
	return sessionrun.Given{Inventory: c.Flags().Changed("inventory"), Setting: func(key string) bool { return given[key] }}
}

// useSessionInputs makes the configuration of this process the one session
// id ran with (its inventory and run settings), except what given gives,
// and returns the session's record: a resume, retry or detached run then
// runs as the session did, from any directory.
func useSessionInputs(f *cmdutil.Factory, given sessionrun.Given, id string) (*session.Record, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	store, err := f.Store()
	if err != nil {
		return nil, err
	}
	rec, err := store.Get(id)
	store.Close()
	if err != nil {
		return nil, err
	}
	return rec, sessionrun.UseSessionInputs(cfg, rec, given)
}

// RunDetachedOptions are the arguments of the hidden `bos session
// run-detached`.
type RunDetachedOptions struct {
	Factory *cmdutil.Factory
	ID      string
	LockFD  int
	given   sessionrun.Given
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
			opts.ID, opts.given = args[0], givenInputs(c)
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
	if _, err := useSessionInputs(f, opts.given, opts.ID); err != nil {
		return err
	}
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
	return env.follow("session "+opts.ID, nil, 0, func(runner *sessionrun.Runner) (*session.Record, error) {
		return runner.RunStored(f.Context, opts.ID)
	})
}

// ResumeOptions are the flags of `bos session resume`.
type ResumeOptions struct {
	Factory   *cmdutil.Factory
	ID        string
	Detach    bool
	forwarded []string
	given     sessionrun.Given
}

// NewCmdResume returns `bos session resume`.
func NewCmdResume(f *cmdutil.Factory, runF func(*ResumeOptions) error) *cobra.Command {
	opts := &ResumeOptions{Factory: f}
	c := &cobra.Command{
		Use:   "resume ID",
		Short: "Continue an interrupted session where its process left it",
		Long: `Continue a session whose bos process died (it shows as interrupted), under the
same id and history. Finished nodes stay finished; a node caught mid-action has
its power state read again, so it is not reset a second time needlessly. It
runs with the session's own inventory and settings, from any directory; flags
given here override them.
A running session is refused (exit 4); a finished one cannot be resumed: the
error says what is left to do ('bos session retry ID' for its failed nodes,
'bos session retry ID --unfinished' for those a cancel left unfinished).`,
		Example: `  bos session resume 3f2a
  bos session resume 3f2a --detach`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID, opts.forwarded, opts.given = args[0], forwardedFlags(c), givenInputs(c)
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
	rec, err := useSessionInputs(f, opts.given, opts.ID)
	if err != nil {
		return err
	}
	env, err := newSessionEnv(f)
	if err != nil {
		return err
	}
	defer env.store.Close()
	if opts.Detach {
		if _, err := env.runner.ClaimForResume(f.Context, rec.ID); err != nil {
			return err
		}
		return detach(f, env, rec.ID, opts.forwarded)
	}
	return env.follow(fmt.Sprintf("%s %s", rec.Operation, rec.Template), rec.Phases, len(rec.Nodes),
		func(runner *sessionrun.Runner) (*session.Record, error) { return runner.Resume(f.Context, rec.ID) })
}

// CancelOptions are the flags of `bos session cancel`.
type CancelOptions struct {
	Factory *cmdutil.Factory
	ID      string
	Wait    time.Duration
	given   sessionrun.Given
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
			opts.ID, opts.given = args[0], givenInputs(c)
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
	// Its nodes' BMCs are found in its own inventory, wherever cancel runs.
	if _, err := useSessionInputs(f, opts.given, opts.ID); err != nil {
		return err
	}
	env, err := newSessionEnv(f)
	if err != nil {
		return err
	}
	defer env.store.Close()
	rec, err := env.runner.Cancel(f.Context, opts.ID, opts.Wait)
	if err != nil {
		return err
	}
	view := viewOf(rec)
	if env.format.Structured() {
		return output.Data(f.IO.Out, env.format, view)
	}
	fmt.Fprintf(f.IO.Out, "session %s cancelled: %d nodes, %d succeeded, %d failed, %d left unfinished\n",
		rec.ID, rec.Summary.Total, rec.Summary.Succeeded, rec.Summary.Failed, rec.Summary.Pending)
	return view.print(f.IO.Out, true)
}

// RetryOptions are the flags of `bos session retry`.
type RetryOptions struct {
	Factory    *cmdutil.Factory
	ID         string
	Unfinished bool
	DryRun     bool
	Detach     bool
	forwarded  []string
	given      sessionrun.Given
}

// NewCmdRetry returns `bos session retry`.
func NewCmdRetry(f *cmdutil.Factory, runF func(*RetryOptions) error) *cobra.Command {
	opts := &RetryOptions{Factory: f}
	c := &cobra.Command{
		Use:   "retry ID",
		Short: "Run a new session on the failed (or unfinished) nodes of a session",
		Long: `Create a new session on the nodes that failed in session ID, or with
--unfinished (or when none failed) on those it left unfinished: a session
cancelled, or stopped by an error, before they were done. The new session runs
them as session ID did: with its template (the copy it kept), boot sets,
operation, pace, inventory and settings, from any directory; flags given here
override the settings. An interrupted session is not retried but resumed
('bos session resume ID'), which finishes its unfinished nodes where each stands.`,
		Example: `  bos session retry 3f2a
  bos session retry 3f2a --unfinished
  bos session retry 3f2a --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.ID, opts.forwarded, opts.given = args[0], forwardedFlags(c), givenInputs(c)
			if runF != nil {
				return runF(opts)
			}
			return runRetry(opts)
		},
	}
	c.Flags().BoolVar(&opts.Unfinished, "unfinished", false, "retry the nodes the session left unfinished (the default when none failed)")
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the plan and touch no BMC")
	c.Flags().BoolVar(&opts.Detach, "detach", false, "print the new session's id at once and run it in the background")
	addRunFlags(c)
	return c
}

func runRetry(opts *RetryOptions) error {
	f := opts.Factory
	rec, err := useSessionInputs(f, opts.given, opts.ID)
	if err != nil {
		return err
	}
	retry, err := sessionrun.NewRetry(rec, opts.Unfinished)
	if err != nil {
		return err
	}
	env, err := newSessionEnv(f)
	if err != nil {
		return err
	}
	defer env.store.Close()
	prepared, err := env.runner.PrepareRetry(f.Context, retry)
	if err != nil {
		return err
	}
	return env.runPrepared(prepared, opts.DryRun, opts.Detach, opts.forwarded)
}
