package cmd

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/config"
)

// TestEveryCommandHasExamples walks the command tree as `bos help` shows
// it: a command a user can run must show how.
func TestEveryCommandHasExamples(t *testing.T) {
	io, _, _ := cmdutil.Test()
	v := config.New()
	root := NewRootCmd(cmdutil.NewFactory(context.Background(), io, v), v)
	root.InitDefaultHelpCmd()
	checked := 0
	walkCommands(root, func(c *cobra.Command) {
		if !c.Runnable() || !c.IsAvailableCommand() || c.Name() == "help" {
			return
		}
		checked++
		assert.NotEmpty(t, c.Example, "%s: add an Example to its help", c.CommandPath())
	})
	assert.Greater(t, checked, 15, "the walk reaches the subcommands")
}

// manDate is the date field of a man page's .TH line, which changes with
// the day the pages are generated.
var manDate = regexp.MustCompile(`(?m)^(\.TH "[^"]*" "[^"]*") "[^"]*"`)

// TestManPagesAreCurrent fails when docs/man no longer matches the command
// tree: a flag, command or help text changed without `make docs`.
func TestManPagesAreCurrent(t *testing.T) {
	dir := t.TempDir()
	io, _, errOut := cmdutil.Test()
	require.Equal(t, cmdutil.ExitOK, Run(context.Background(), io, []string{"docs", "man", dir}), errOut.String())

	committed := manPages(t, filepath.Join("..", "docs", "man"))
	generated := manPages(t, dir)
	require.NotEmpty(t, generated)
	for name, page := range generated {
		old, ok := committed[name]
		if !assert.True(t, ok, "docs/man/%s is missing: run make docs", name) {
			continue
		}
		assert.Equal(t, page, old, "docs/man/%s is stale: run make docs", name)
	}
	for name := range committed {
		assert.Contains(t, generated, name, "docs/man/%s documents a command that no longer exists: run make docs", name)
	}
}

func manPages(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.1"))
	require.NoError(t, err)
	pages := make(map[string]string, len(files))
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		pages[filepath.Base(file)] = manDate.ReplaceAllString(string(data), `$1 "DATE"`)
	}
	return pages
}
