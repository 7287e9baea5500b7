//go:build unix

package sim

import (
	"math"
	"syscall"
)

// openFileLimit is the process's open-file limit (the Go runtime has
// already raised the soft limit to the hard one).
func openFileLimit() int {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil || limit.Cur > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(limit.Cur)
}
