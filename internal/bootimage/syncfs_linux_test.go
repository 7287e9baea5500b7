package bootimage

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKernelAtLeast(t *testing.T) {
	tests := []struct {
		release string
		want    bool
	}{
		{release: "5.8.0", want: true},
		{release: "6.1.0-18-amd64", want: true},
		{release: "5.10", want: true},
		{release: "5.7.19", want: false},
		{release: "4.18.0-553.el8_10.x86_64", want: false},
		{release: "5.8-rc1", want: true},
		{release: "10.0.1", want: true},
		{release: "garbage", want: false},
		{release: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.release, func(t *testing.T) {
			assert.Equal(t, tt.want, kernelAtLeast(tt.release, 5, 8))
		})
	}
}

// TestWriteNodeUnderNarrowUmask: with umask 077 the files would be 0600
// and the directories 0700, out of the HTTP server's reach; they must
// still be 0644 and 0755.
func TestWriteNodeUnderNarrowUmask(t *testing.T) {
	previous := syscall.Umask(0o077)
	t.Cleanup(func() {
		syscall.Umask(previous)
		umaskNarrows.Store(umaskUnknown)
	})
	umaskNarrows.Store(umaskUnknown)
	dir := filepath.Join(t.TempDir(), "boot")
	n := newTestNode(1, true, "umask")
	require.NoError(t, WriteNode(dir, n.name, n.mac, n.files))
	want := map[string]writtenFile{}
	n.want(want)
	assert.Equal(t, want, readTree(t, dir))
	for _, sub := range []string{".", "nodes", "mac"} {
		info, err := os.Stat(filepath.Join(dir, sub))
		require.NoError(t, err)
		assert.Equal(t, fs.ModeDir|0o755, info.Mode(), "directory %s", sub)
	}
}
