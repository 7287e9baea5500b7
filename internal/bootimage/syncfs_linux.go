package bootimage

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// sysSyncfs is syncfs(2)'s number on this architecture (0: unknown here).
// Package syscall predates the call on most architectures and
// golang.org/x/sys is not a dependency of bos.
var sysSyncfs = map[string]uintptr{
	"386": 344, "amd64": 306, "arm": 373, "arm64": 267, "loong64": 267,
	"ppc64": 348, "ppc64le": 348, "riscv64": 267, "s390x": 338,
}[runtime.GOARCH]

// syncfsWorks says whether the group commit flushes a whole file system
// with one syncfs(2) rather than fsyncing every file: on Linux 5.8 and
// later, where syncfs reports write-back errors (before, it returned 0
// even when a write failed, and a boot file could be lost silently).
var syncfsWorks = sync.OnceValue(func() bool {
	var uts syscall.Utsname
	if sysSyncfs == 0 || syscall.Uname(&uts) != nil {
		return false
	}
	var release strings.Builder
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		release.WriteByte(byte(c))
	}
	return kernelAtLeast(release.String(), 5, 8)
})

// kernelAtLeast reads the major.minor start of a kernel release such as
// "6.1.0-18-amd64".
func kernelAtLeast(release string, major, minor int) bool {
	fields := strings.SplitN(release, ".", 3)
	if len(fields) < 2 {
		return false
	}
	gotMajor, err := strconv.Atoi(fields[0])
	if err != nil {
		return false
	}
	minorDigits := fields[1]
	if end := strings.IndexFunc(minorDigits, func(r rune) bool { return r < '0' || r > '9' }); end >= 0 {
		minorDigits = minorDigits[:end] // "8-rc1"
	}
	gotMinor, err := strconv.Atoi(minorDigits)
	if err != nil {
		return false
	}
	return gotMajor > major || gotMajor == major && gotMinor >= minor
}

// syncFileSystem flushes every dirty file of the file system holding dir
// and commits its journal: one wait for the disk for a whole batch.
func syncFileSystem(dir *os.File) error {
	conn, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := conn.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(sysSyncfs, fd, 0, 0)
	}); err != nil {
		return err
	}
	fsyncCount.Add(1)
	if errno != 0 {
		return fmt.Errorf("syncfs: %w", errno)
	}
	return nil
}
