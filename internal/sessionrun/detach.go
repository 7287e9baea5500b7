package sessionrun

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/bos-project/bos/internal/session"
)

// DetachedLockFD is where a detached run finds the session lock its parent
// handed down: the first of exec.Cmd.ExtraFiles.
const DetachedLockFD = 3

// SpawnDetached starts this program again with args, in the background, to
// run session id, already started (record written, nodes reserved, lock
// held by store). The child gets the open session lock file on
// DetachedLockFD, so the session never reads as interrupted in between,
// starts its own session (setsid) so it outlives the shell, and writes its
// stdout and stderr to the session log.
func SpawnDetached(store *session.Store, id string, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	lock, ok := store.HeldLockFile(id)
	if !ok {
		return fmt.Errorf("this process does not hold the session lock")
	}
	logFile, err := store.OpenLog(id)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// Deliberately not CommandContext: the child must outlive this process
	// and its context.
	child := exec.Command(exe, args...)
	child.Stdout, child.Stderr = logFile, logFile
	child.ExtraFiles = []*os.File{lock}
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return err
	}
	return child.Process.Release()
}
