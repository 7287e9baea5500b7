// Package completion implements `bos completion` (the shell scripts) and
// the dynamic completion of bos's arguments and flag values: session ids,
// template names, limit terms and the fixed choices of --operation, --pace,
// --status and -o.
package completion

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// shells are the shells bos writes completion scripts for.
var shells = []string{"bash", "zsh", "fish"}

// Options are the arguments of `bos completion`.
type Options struct {
	Factory *cmdutil.Factory
	Shell   string
	// Root is the command tree the script completes.
	Root *cobra.Command
}

// NewCmdCompletion returns `bos completion SHELL`. It replaces cobra's
// default completion command so the install instructions speak of bos and
// of the shells HPC sites use.
func NewCmdCompletion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for bash, zsh or fish",
		Long: `Print a script that makes the shell complete bos's commands and flags, and also
the values that depend on this machine: session ids (a unique prefix, with the
session's operation, template and status), template names from the templates
directories, and inventory nodes, groups, roles and partitions for --limit.
The values are read when you press Tab, with the same --config, --state-dir,
--inventory and --templates (or BOS_* variables) as the command line.

bash (needs the bash-completion package):
  # this shell only
  source <(bos completion bash)
  # every new shell, for you
  mkdir -p ~/.local/share/bash-completion/completions
  bos completion bash > ~/.local/share/bash-completion/completions/bos
  # every user of the machine
  bos completion bash | sudo tee /usr/share/bash-completion/completions/bos >/dev/null

zsh:
  # once, if completion is not yet enabled: in ~/.zshrc
  autoload -U compinit; compinit
  # every new shell: a directory of your fpath
  mkdir -p ~/.zsh/completions
  bos completion zsh > ~/.zsh/completions/_bos
  # and in ~/.zshrc, before compinit
  fpath=(~/.zsh/completions $fpath)

fish:
  bos completion fish > ~/.config/fish/completions/bos.fish

Start a new shell after installing.`,
		Example: `  source <(bos completion bash)
  bos completion zsh > "${fpath[1]}/_bos"
  bos completion fish > ~/.config/fish/completions/bos.fish`,
		ValidArgs:             shells,
		Args:                  cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		DisableFlagsInUseLine: true,
		RunE: func(c *cobra.Command, args []string) error {
			opts.Shell, opts.Root = args[0], c.Root()
			if runF != nil {
				return runF(opts)
			}
			return runCompletion(opts)
		},
	}
}

func runCompletion(opts *Options) error {
	out := opts.Factory.IO.Out
	var err error
	switch opts.Shell {
	case "bash":
		err = opts.Root.GenBashCompletionV2(out, true)
	case "zsh":
		err = opts.Root.GenZshCompletion(out)
	case "fish":
		err = opts.Root.GenFishCompletion(out, true)
	}
	if err != nil {
		return fmt.Errorf("write the %s completion script: %w", opts.Shell, err)
	}
	return nil
}
