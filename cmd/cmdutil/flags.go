package cmdutil

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/inventory"
)

// configKeyAnnotation marks a flag as the command-line form of a config key.
const configKeyAnnotation = "bos/config-key"

// SettingFlags declares the flags of settings on fs, each marked as
// setting its config key. The binding to viper happens only for the
// command that runs (BindConfigFlags): viper keeps one flag per key, so
// binding every command's flags when the tree is built would let the last
// command built steal the key from the others.
func SettingFlags(fs *pflag.FlagSet, settings ...config.Setting) {
	for _, s := range settings {
		declareSetting(fs, s)
		cobra.CheckErr(fs.SetAnnotation(s.Flag, configKeyAnnotation, []string{s.Key}))
	}
}

// GlobalSettingFlags declares the flags every command takes on fs (the
// root's persistent flags) and binds them to their keys at once: there is
// one owner of each, and completion, which runs no command, reads them too.
func GlobalSettingFlags(fs *pflag.FlagSet, v *viper.Viper) {
	for _, s := range config.SettingsIn(config.Global) {
		declareSetting(fs, s)
		cobra.CheckErr(v.BindPFlag(s.Key, fs.Lookup(s.Flag)))
	}
}

func declareSetting(fs *pflag.FlagSet, s config.Setting) {
	switch s.Kind() {
	case config.FlagSwitch:
		fs.BoolP(s.Flag, s.Shorthand, false, s.FlagUsage())
	case config.FlagList:
		fs.StringSliceP(s.Flag, s.Shorthand, nil, s.FlagUsage())
	default:
		fs.StringP(s.Flag, s.Shorthand, s.FlagDefault(), s.FlagUsage())
	}
}

// SetsConfigKey says whether fl is the flag of a setting a command chose.
func SetsConfigKey(fl *pflag.Flag) bool { return len(fl.Annotations[configKeyAnnotation]) == 1 }

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

// ResolveLimit reads the terms of a --limit given as @FILE or - (stdin)
// into the flag (inventory.ReadLimit), so the session, its record and its
// retry command see the nodes themselves, and refuses a --limit that was
// given but names nothing (inventory.ErrEmptyLimit). A given but empty
// value cannot be told from no --limit at all once parsed, and no limit
// means every node: the check must see whether the flag was given, so it
// runs here, before any command.
func ResolveLimit(c *cobra.Command, stdin io.Reader) error {
	fl := c.Flags().Lookup("limit")
	if fl == nil || !fl.Changed {
		return nil
	}
	expr, err := LimitArg(fl.Value.String(), stdin)
	if err != nil {
		return err
	}
	return fl.Value.Set(expr)
}

// LimitArg is a limit given on the command line (a --limit or a command's
// LIMIT argument) with its terms read from @FILE or stdin. An empty one is
// a usage error; other syntax errors are left to where the limit is
// applied, which says against which inventory.
func LimitArg(arg string, stdin io.Reader) (string, error) {
	expr, err := inventory.ReadLimit(arg, stdin)
	if err == nil {
		if _, parseErr := inventory.ParseLimit(expr); errors.Is(parseErr, inventory.ErrEmptyLimit) {
			err = parseErr
		}
	}
	if errors.Is(err, inventory.ErrEmptyLimit) {
		return "", fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return expr, err
}

// OneLimit is the Args of a command whose one argument is the LIMIT of
// nodes it acts on: a command that acts on nodes named on its command line
// has no default of every node, so a missing LIMIT says how to name them.
func OneLimit(c *cobra.Command, args []string) error {
	switch len(args) {
	case 1:
		return nil
	case 0:
		return UsageError("%s needs LIMIT, the nodes to act on: names, a hostlist range, groups, 'all', @FILE or - "+
			"(e.g. %s 'x3000c0s[1-4]b0n0')", c.CommandPath(), c.CommandPath())
	}
	return UsageError("%s takes one LIMIT, got %d arguments: join terms with commas (e.g. %s a,b)",
		c.CommandPath(), len(args), c.CommandPath())
}
