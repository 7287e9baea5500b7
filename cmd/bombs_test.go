//go:build linux

package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// TestInventoryCheckSurvivesBombs runs the real binary against BMCs that
// answer with an endless header or body: bos fails those nodes with a
// reason naming the bound, reads the healthy one, and stays small and
// quick. Without the bounds a header bomb took bos past 800 MB RSS.
func TestInventoryCheckSurvivesBombs(t *testing.T) {
	const (
		maxRSSKiB = 150 << 10
		maxWall   = 60 * time.Second
		// addressSpaceKiB keeps a bos without bounds from taking the test
		// machine's memory: it dies at this size instead.
		addressSpaceKiB = 3 << 20
	)
	bos := buildBos(t)
	tests := []struct {
		fault      string
		wantReason string
	}{
		{fault: "header-bomb", wantReason: "answer header over 64 KiB (a broken or hostile BMC)"},
		// The service root, the first answer bos reads, has a bound of its own.
		{fault: "body-bomb", wantReason: "service root over 256 KiB (a broken or hostile BMC)"},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
			inventory := filepath.Join(dir, "inventory.yaml")
			simProcess(t, bos, inventory, "--nodes", "4", "--time-scale", "0.01", "--fault", tt.fault+"=x3000c0s[1-3]b0n0")

			check := exec.Command("/bin/sh", "-c", `ulimit -v "$0" && exec "$@"`, strconv.Itoa(addressSpaceKiB),
				bos, "--inventory", inventory, "inventory", "check", "--request-timeout", "5s", "-o", "json")
			var stdout, stderr bytes.Buffer
			check.Stdout, check.Stderr = &stdout, &stderr
			start := time.Now()
			err := check.Run()
			wall := time.Since(start)
			// A bos out of memory prints every goroutine: its first lines say enough.
			errText := stderr.String()[:min(stderr.Len(), 2000)]
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "bos check: %v\n%s", err, errText)
			require.Equal(t, cmdutil.ExitNodesFailed, exit.ExitCode(), errText)
			maxRSS := check.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
			t.Logf("%s: %s wall, %d MiB peak RSS", tt.fault, wall.Round(time.Millisecond), maxRSS>>10)
			assert.Less(t, wall, maxWall)
			assert.Less(t, maxRSS, int64(maxRSSKiB), "peak RSS in KiB")

			var report struct {
				Nodes []struct{ Node, Error string }
			}
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &report), stdout.String())
			require.Len(t, report.Nodes, 4)
			for _, node := range report.Nodes[:3] {
				assert.Contains(t, node.Error, tt.wantReason, node.Node)
			}
			assert.Empty(t, report.Nodes[3].Error, "the healthy BMC is read all the same")
		})
	}
}
