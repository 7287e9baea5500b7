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
		Example: `  bos session create --template compute --operation reboot --limit 'x3000c0s[1-16]b0n0'
  bos session list --status failed
  bos session describe 3f2a
  bos session retry 3f2a`,
	}
	c.AddCommand(
		NewCmdCreate(f, nil),
		NewCmdList(f, nil),
		NewCmdDescribe(f, nil),
		NewCmdDelete(f, nil),
		NewCmdPrune(f, nil),
		NewCmdStatus(f, nil),
		NewCmdLogs(f, nil),
		NewCmdCancel(f, nil),
		NewCmdResume(f, nil),
		NewCmdRetry(f, nil),
		NewCmdRunDetached(f, nil),
	)
	return c
}
