// Package template implements `bos template`: list the templates bos can
// find, describe one with the nodes it would select, and validate files
// before they are used.
package template

import (
	"errors"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/inventory"
)

// NewCmdTemplate returns `bos template` with its subcommands.
func NewCmdTemplate(f *cmdutil.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:     "template",
		Aliases: []string{"templates"},
		Short:   "List, describe and validate session templates",
		Long: `A session template (BOS v1 format, YAML or JSON) names the images to boot and the
nodes of each boot set. Templates are looked up by name in the templates
directories (--templates, BOS_TEMPLATES, default templates/ next to the config
and ./templates); every command that takes a template also takes a file path.`,
		Example: `  bos template list
  bos template describe compute
  bos template validate templates/*.yaml`,
	}
	c.AddCommand(
		NewCmdList(f, nil),
		NewCmdDescribe(f, nil),
		NewCmdValidate(f, nil),
	)
	return c
}

// optionalInventory loads the inventory when there is one. Templates are
// useful to inspect before any inventory exists, so a missing file is not
// an error and a broken one only costs the node columns (with a warning).
func optionalInventory(f *cmdutil.Factory) *inventory.Inventory {
	inv, err := f.Inventory()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.Warnf("nodes not shown: %v", err)
		return nil
	}
	return inv
}
