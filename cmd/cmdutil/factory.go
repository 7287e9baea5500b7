package cmdutil

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/viper"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
)

// Factory gives commands what they need, resolved once and only when asked
// for, so `bos version` works without a config file and tests can swap any
// piece.
type Factory struct {
	IO    *IOStreams
	Viper *viper.Viper
	// Context is the process context: cancelled on SIGINT/SIGTERM.
	Context context.Context

	loadConfig func() (*config.Config, error)
}

// NewFactory returns a Factory reading configuration from v.
func NewFactory(ctx context.Context, io *IOStreams, v *viper.Viper) *Factory {
	f := &Factory{IO: io, Viper: v, Context: ctx}
	f.loadConfig = sync.OnceValues(func() (*config.Config, error) { return config.Load(v) })
	return f
}

// Config returns the resolved configuration.
func (f *Factory) Config() (*config.Config, error) { return f.loadConfig() }

// Format returns the -o format.
func (f *Factory) Format() (output.Format, error) {
	cfg, err := f.Config()
	if err != nil {
		return "", err
	}
	return output.Format(cfg.Output), nil
}

// Warnf prints a warning on stderr unless -q was given.
func (f *Factory) Warnf(format string, args ...any) {
	if cfg, err := f.Config(); err == nil && cfg.Quiet {
		return
	}
	fmt.Fprintf(f.IO.ErrOut, "warning: "+format+"\n", args...)
}

// Store opens the state directory, saying so on stderr (even with -q: it
// changed the user's files) when it had to make the directory private.
func (f *Factory) Store() (*session.Store, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	store, err := session.Open(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	if was := store.TightenedFrom(); was != 0 {
		fmt.Fprintf(f.IO.ErrOut, "bos: state directory %s was mode %04o; tightened to 0700\n", cfg.StateDir, was)
		if rel, err := filepath.Rel(cfg.StateDir, cfg.BootDir); err == nil && !strings.HasPrefix(rel, "..") {
			fmt.Fprintf(f.IO.ErrOut, "bos: boot.dir %s is inside it: an HTTP server running as another user can no longer read it; set boot.dir to a directory outside the state directory\n", cfg.BootDir)
		}
	}
	return store, nil
}

// Inventory loads the inventory file, printing its warnings.
func (f *Factory) Inventory() (*inventory.Inventory, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	inv, warnings, err := inventory.Load(cfg.Inventory)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		f.Warnf("%s", w)
	}
	return inv, nil
}

// BMCOptions are the configuration's BMC settings with -v diagnostics on
// stderr. Call it after Config succeeded.
func (f *Factory) BMCOptions() bmc.Options {
	cfg, err := f.Config()
	if err != nil {
		return bmc.Options{}
	}
	o := cfg.BMC
	if cfg.Verbose {
		o.Log = bmc.LogTo(f.IO.ErrOut)
	}
	return o
}

// ReadStore is what commands that only read history need: the -o format and
// the open state directory (close it when done).
func (f *Factory) ReadStore() (output.Format, *session.Store, error) {
	format, err := f.Format()
	if err != nil {
		return "", nil, err
	}
	store, err := f.Store()
	if err != nil {
		return "", nil, err
	}
	return format, store, nil
}
