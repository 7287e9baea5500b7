package cmdutil

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
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
