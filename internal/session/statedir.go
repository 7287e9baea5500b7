package session

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/bos-project/bos/internal/exitcode"
)

// ErrUnsafeStateDir: the state directory is open to other users and bos
// cannot close it, because another user owns it.
var ErrUnsafeStateDir = exitcode.New(exitcode.Invalid, "unsafe state directory")

// euid is the user bos runs as; a variable so tests can play another user.
var euid = os.Geteuid

// privatize makes sure that only its owner can enter the state directory,
// which holds every session's node list, logs and the runners' clones.
// A directory bos's user owns is tightened to 0700, and the mode it had is
// returned (0 when it was already private); one owned by another user is
// refused, since bos may not change it and must not write there.
//
// Only the directory itself is checked: with it at 0700 nobody else can
// reach anything beneath it, whatever the modes inside, and walking
// sessions/ (thousands of entries) on every command would cost for nothing.
func privatize(dir string) (was fs.FileMode, err error) {
	info, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("state directory %s: %w", dir, err)
	}
	if !info.IsDir() {
		return 0, fmt.Errorf("state directory %s: not a directory", dir)
	}
	perm := info.Mode().Perm()
	if perm&0o077 == 0 {
		return 0, nil
	}
	stat, ok := info.Sys().(*syscall.Stat_t)
	if !ok || int(stat.Uid) != euid() {
		owner := "another user"
		if ok {
			owner = fmt.Sprintf("uid %d", stat.Uid)
		}
		return 0, fmt.Errorf("%w: %s is mode %04o (other users can enter it) and belongs to %s, not to you (uid %d), so bos will not change it or keep sessions there: "+
			"as its owner run `chmod 700 %s`, or give bos a directory of your own (--state-dir or BOS_STATE_DIR)",
			ErrUnsafeStateDir, dir, perm, owner, euid(), dir)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return 0, fmt.Errorf("state directory %s: make it private (mode %04o to 0700): %w", dir, perm, err)
	}
	return perm, nil
}
