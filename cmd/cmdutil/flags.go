package cmdutil

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/bos-project/bos/internal/inventory"
)

// configKeyAnnotation marks a flag as the command-line form of a config key.
const configKeyAnnotation = "bos/config-key"

// ConfigFlag declares that flag name of fs sets config key. The binding to
// viper happens only for the command that runs (BindConfigFlags): viper
// keeps one flag per key, so binding every command's flags when the tree is
// built would let the last command built steal the key from the others.
func ConfigFlag(fs *pflag.FlagSet, name, key string) {
	cobra.CheckErr(fs.SetAnnotation(name, configKeyAnnotation, []string{key}))
}

// BindConfigFlags binds the config-key flags of the command about to run.
func BindConfigFlags(c *cobra.Command, v *viper.Viper) error {
	var err error
	c.Flags().VisitAll(func(fl *pflag.Flag) {
		if keys := fl.Annotations[configKeyAnnotation]; len(keys) == 1 && err == nil {
			err = v.BindPFlag(keys[0], fl)
		}
	})
	return err
}

// RefuseEmptyLimit refuses a --limit that was given but names nothing
// (inventory.ErrEmptyLimit). A given but empty value cannot be told from no
// --limit at all once parsed, and no limit means every node: the check
// must see whether the flag was given, so it runs here, before any command.
func RefuseEmptyLimit(c *cobra.Command) error {
	fl := c.Flags().Lookup("limit")
	if fl == nil || !fl.Changed {
		return nil
	}
	if _, err := inventory.ParseLimit(fl.Value.String()); errors.Is(err, inventory.ErrEmptyLimit) {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return nil
}
