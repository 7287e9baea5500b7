package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// openPTY opens a pseudo-terminal: what the child writes to tty, master
// reads.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	// Every Linux this runs on (CI's included) has /dev/ptmx; a skip
	// here would hide that the terminal progress went untested.
	require.NoError(t, err, "open a pseudo-terminal")
	t.Cleanup(func() { _ = master.Close() })
	ioctl := func(request uintptr, arg unsafe.Pointer) {
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), request, uintptr(arg))
		require.Zero(t, errno, "ioctl %#x", request)
	}
	var unlock int32
	ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	var n uint32
	ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n))
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	return master, tty
}

// Issue 17, item 7: `inventory check` shows its progress on a terminal,
// and the BMCs that do not answer. The real binary checks four nodes, two
// behind BMCs that take every request and answer none, its stderr a
// terminal: the live line counts the nodes read and those waiting on the
// silent BMCs; stdout stays the JSON report.
func TestInventoryCheckProgressOnATerminal(t *testing.T) {
	bos := buildBos(t)
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("BOS_REQUEST_RETRY_BACKOFF", "0.01")
	t.Setenv("NO_COLOR", "1")
	inventory := filepath.Join(dir, "inventory.yaml")
	simProcess(t, bos, inventory, "--nodes", "4", "--time-scale", "0.01", "--fault", "silent=x3000c0s[1-2]b0n0")

	master, tty := openPTY(t)
	check := exec.Command(bos, "--inventory", inventory, "inventory", "check", "--request-timeout", "500ms", "-o", "json")
	var stdout bytes.Buffer
	check.Stdout, check.Stderr = &stdout, tty
	require.NoError(t, check.Start())
	require.NoError(t, tty.Close()) // the child has its own
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&screen, master) // ends with EIO once the child is gone
	}()
	err := check.Wait()
	<-read

	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, cmdutil.ExitNodesFailed, exit.ExitCode(), screen.String())
	assert.Contains(t, screen.String(), "inventory check: power state ", "the live line")
	assert.Contains(t, screen.String(), "· 2 nodes waiting on BMCs that do not answer")
	assert.Contains(t, screen.String(), "inventory check: power state 2✓ 2✗\r\n", "the last line")
	var report struct {
		Nodes []struct{ Node, Error string }
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &report), stdout.String())
	require.Len(t, report.Nodes, 4)
	assert.Equal(t, "BMC gave no answer within 500ms (4 attempts)", report.Nodes[0].Error)
}
