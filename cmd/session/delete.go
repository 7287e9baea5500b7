package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/config"
)

// DeleteOptions are the flags of `bos session delete`.
type DeleteOptions struct {
	Factory   *cmdutil.Factory
	IDs       []string
	Force     bool
	OlderThan string
}

// NewCmdDelete returns `bos session delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	c := &cobra.Command{
		Use:     "delete ID... | --older-than D",
		Aliases: []string{"rm"},
		Short:   "Delete sessions and their history",
		Long: `Delete sessions from the state directory. An ID may be any unique prefix.
--older-than deletes every session that started at least that long ago and is
not running. A running session is refused (exit 4) unless --force is given:
it is then cancelled first (waiting up to 10s), then deleted.`,
		Example: `  bos session delete 3f2a
  bos session delete --older-than 7d
  bos session list --status failed -o json | jq -r '.[].id' | xargs bos session delete`,
		RunE: func(c *cobra.Command, args []string) error {
			opts.IDs = args
			if (len(args) == 0) == (opts.OlderThan == "") {
				return cmdutil.UsageError("give session IDs or --older-than D, not both and not neither")
			}
			if runF != nil {
				return runF(opts)
			}
			return runDelete(opts)
		},
	}
	c.Flags().BoolVar(&opts.Force, "force", false, "cancel a running session, then delete it")
	c.Flags().StringVar(&opts.OlderThan, "older-than", "", "delete every session (not running) started at least this long ago, e.g. 7d")
	return c
}

// runDelete deletes every named session it can and reports each one that
// it could not, so one bad id does not stop a scripted clean-up.
func runDelete(opts *DeleteOptions) error {
	f := opts.Factory
	if opts.OlderThan != "" {
		age, err := config.Duration(opts.OlderThan)
		if err != nil {
			return cmdutil.UsageError("--older-than: %v", err)
		}
		return deleteOlderThan(f, age)
	}
	env, err := newSessionEnv(f)
	if err != nil {
		return err
	}
	defer env.store.Close()
	var errs []error
	for _, ref := range opts.IDs {
		id, cancelErr, err := env.runner.Delete(f.Context, ref, opts.Force)
		if cancelErr != nil {
			f.Warnf("%v; deleting it anyway", cancelErr)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(f.IO.Out, "deleted %s\n", id)
	}
	return errors.Join(errs...)
}

func deleteOlderThan(f *cmdutil.Factory, age time.Duration) error {
	store, err := f.Store()
	if err != nil {
		return err
	}
	defer store.Close()
	deleted, err := store.DeleteOlderThan(age, time.Now())
	for _, id := range deleted {
		fmt.Fprintf(f.IO.Out, "deleted %s\n", id)
	}
	return err
}

// PruneOptions are the flags of `bos session prune`: only the retention
// setting, which the configuration resolves.
type PruneOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdPrune returns `bos session prune`.
func NewCmdPrune(f *cmdutil.Factory, runF func(*PruneOptions) error) *cobra.Command {
	opts := &PruneOptions{Factory: f}
	c := &cobra.Command{
		Use:   "prune",
		Short: "Delete sessions older than the retention setting (never running ones)",
		Long: `Delete every session that started longer ago than session_retention (config
file, BOS_SESSION_RETENTION or --older-than; default 30d) and is not running.
Corrupt sessions are kept for a person to look at.`,
		Example: `  bos session prune
  bos session prune --older-than 90d`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runPrune(opts)
		},
	}
	cmdutil.SettingFlags(c.Flags(), config.MustSetting(config.KeySessionRetention))
	return c
}

func runPrune(opts *PruneOptions) error {
	cfg, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	return deleteOlderThan(opts.Factory, cfg.SessionRetention)
}
