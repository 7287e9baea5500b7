package session

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// DeleteOptions are the flags of `bos session delete`.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	IDs     []string
	Force   bool
}

// NewCmdDelete returns `bos session delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	c := &cobra.Command{
		Use:     "delete ID...",
		Aliases: []string{"rm"},
		Short:   "Delete sessions and their history",
		Long: `Delete sessions from the state directory. An ID may be any unique prefix.
A running session is refused unless --force is given.`,
		Example: `  bos session delete 3f2a
  bos session list --status failed -o json | jq -r '.[].id' | xargs bos session delete`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.IDs = args
			if runF != nil {
				return runF(opts)
			}
			return runDelete(opts)
		},
	}
	c.Flags().BoolVar(&opts.Force, "force", false, "also delete a running session")
	return c
}

// runDelete deletes every named session it can and reports each one that
// it could not, so one bad id does not stop a scripted clean-up.
func runDelete(opts *DeleteOptions) error {
	f := opts.Factory
	store, err := f.Store()
	if err != nil {
		return err
	}
	defer store.Close()
	var errs []error
	for _, ref := range opts.IDs {
		rec, err := store.Get(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := store.Delete(rec.ID, opts.Force); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(f.IO.Out, "deleted %s\n", rec.ID)
	}
	return errors.Join(errs...)
}
