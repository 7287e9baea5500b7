//go:build !linux

package bootimage

import (
	"errors"
	"os"
)

// syncfsWorks is false where there is no syncfs(2): stage fsyncs each
// file, and the group commit only shares the directory fsyncs.
func syncfsWorks() bool { return false }

func syncFileSystem(*os.File) error {
	return errors.New("syncfs: not available on this system")
}
