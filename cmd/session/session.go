// Package session implements `bos session`: create, list, describe,
// status, logs, cancel, resume, retry, delete and prune BOS sessions.
package session

import (
	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// NewCmdSession returns `bos session` with its subcommands.
func NewCmdSession(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "session",
		Short: "Create, inspect and delete sessions (one operation on a set of nodes)",
		Long: `A session runs one operation (boot, shutdown, reboot or configure) of a session
template on the nodes it selects, and keeps the full per-node history in the
state directory.`,
	}
	c.AddCommand(
		NewCmdCreate(f, nil),
		NewCmdList(f, nil),
		NewCmdDescribe(f, nil),
		NewCmdDelete(f, nil),
		NewCmdPrune(f),
		NewCmdStatus(f),
		NewCmdLogs(f),
		NewCmdCancel(f),
		NewCmdResume(f),
		NewCmdRetry(f),
		NewCmdRunDetached(f),
	)
	return c
}
