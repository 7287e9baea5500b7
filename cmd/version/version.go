// Package version implements `bos version`.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/output"
)

// Version is set at build time: -ldflags "-X .../cmd/version.Version=v1.2.3".
var Version = "dev"

// Info is what `bos version -o json` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Options are the flags of `bos version`: none but -o.
type Options struct {
	Factory *cmdutil.Factory
}

// NewCmdVersion returns `bos version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the bos version",
		Args:    cobra.NoArgs,
		Example: "  bos version\n  bos version -o json",
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runVersion(opts)
		},
	}
}

func runVersion(opts *Options) error {
	f := opts.Factory
	// Not f.Format: the version prints even when the configuration is broken.
	format := output.Format(f.Viper.GetString("output"))
	info := current()
	if format.Structured() {
		return output.Data(f.IO.Out, format, info)
	}
	_, err := fmt.Fprintf(f.IO.Out, "bos %s (%s, %s)\n", info.Version, info.GoVersion, info.Platform)
	return err
}

func current() Info {
	info := Info{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Commit = s.Value
			}
		}
	}
	return info
}
