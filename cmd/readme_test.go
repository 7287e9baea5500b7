package cmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeHandRunStepsDoNotRace runs the README's first hand-run block
// as written, with bash and a real bos whose simulator is slow to start,
// as on a loaded machine: `bos sim … &` returns at once, and the command
// after it must not read the simulator's inventory before it is written.
// (TestDocsExamplesRun runs the same lines in-process, where bos sim is
// waited for, so it cannot see this race.)
func TestReadmeHandRunStepsDoNotRace(t *testing.T) {
	repo, err := filepath.Abs("..")
	require.NoError(t, err)
	blocks, _ := runnableBlocks(t, filepath.Join(repo, "README.md"))
	var steps []string
	for _, b := range blocks {
		if strings.Contains(strings.Join(b.lines, "\n"), "bos sim ") {
			steps = b.lines
			break
		}
	}
	require.NotEmpty(t, steps, "README.md has a ```sh block that starts bos sim")

	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	// bos where the README's PATH finds it: this test binary acting as bos,
	// whose simulator starts half a second late.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "bin"), 0o755))
	wrapper := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = sim ] && sleep 0.5\n%s=1 exec '%s' \"$@\"\n", envRunAsBos, exe)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "bos"), []byte(wrapper), 0o755))

	// The README's lines stop at the first failure; then the simulator is
	// stopped as the README's last block does.
	script := "set -e\n" + strings.Join(steps, "\n") + "\nset +e\nkill %1\nwait\n"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "bash", "-c", script)
	c.Dir = dir
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"), "XDG_STATE_HOME=" + filepath.Join(dir, ".state")}
	// Its own process group, so a failed run leaves no simulator behind;
	// WaitDelay stops waiting for the output of a simulator bash left
	// running when it stopped at a failure.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = time.Second
	out, err := c.CombinedOutput()
	if c.Process != nil {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	require.NoError(t, err, "the README's steps:\n%s\noutput:\n%s", strings.Join(steps, "\n"), out)
	assert.Contains(t, string(out), "16 nodes: 16 reachable (On 16), 0 unreachable")
}
