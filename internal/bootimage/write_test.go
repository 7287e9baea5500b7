package bootimage

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/reason"
)

// writtenFile is a file of a boot directory as a test sees it.
type writtenFile struct {
	data string
	mode fs.FileMode
}

// readTree returns every file under dir by its slash path relative to dir.
func readTree(t *testing.T, dir string) map[string]writtenFile {
	t.Helper()
	tree := map[string]writtenFile{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		tree[filepath.ToSlash(rel)] = writtenFile{data: string(data), mode: info.Mode()}
		return err
	})
	require.NoError(t, err)
	return tree
}

// testNode is one node of a concurrent write and the files it must leave.
type testNode struct {
	name, mac string
	files     NodeFiles
}

func newTestNode(i int, withMAC bool, round string) testNode {
	n := testNode{name: fmt.Sprintf("x%04dc0s0b0n0", i)}
	if withMAC {
		n.mac = fmt.Sprintf("B4:2E:99:00:%02X:%02X", i>>8, i&0xff)
	}
	n.files = NodeFiles{
		Script:     []byte("#!ipxe\n# " + round + " " + n.name + "\n"),
		Parameters: []byte(`{"hosts": ["` + n.name + `"], "round": "` + round + `"}` + "\n"),
	}
	return n
}

// want adds the node's expected files to tree.
func (n testNode) want(tree map[string]writtenFile) {
	stems := []string{"nodes/" + n.name}
	if n.mac != "" {
		name, _ := macFileName(n.mac)
		stems = append(stems, "mac/"+name)
	}
	for _, stem := range stems {
		tree[stem+".ipxe"] = writtenFile{data: string(n.files.Script), mode: 0o644}
		tree[stem+".json"] = writtenFile{data: string(n.files.Parameters), mode: 0o644}
	}
}

// writeConcurrently writes every node from its own goroutine and returns
// each node's error.
func writeConcurrently(dir string, nodes []testNode) map[string]error {
	var mu sync.Mutex
	errs := make(map[string]error, len(nodes))
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			err := WriteNode(dir, n.name, n.mac, n.files)
			mu.Lock()
			errs[n.name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return errs
}

// TestWriteNodeConcurrently writes many nodes at once, twice (as two
// sessions would): the directory then holds exactly the last round's
// files, 0644, and no staging file.
func TestWriteNodeConcurrently(t *testing.T) {
	dir := t.TempDir()
	for _, round := range []string{"first", "second"} {
		var nodes []testNode
		want := map[string]writtenFile{}
		for i := range 300 {
			n := newTestNode(i, i%3 != 0, round)
			n.want(want)
			nodes = append(nodes, n)
		}
		for node, err := range writeConcurrently(dir, nodes) {
			require.NoError(t, err, "node %s, %s round", node, round)
		}
		assert.Equal(t, want, readTree(t, dir), "%s round", round)
	}
}

// TestWriteNodeFailsOnlyTheBrokenNode breaks one node's files among many
// written at once: that node fails with an error naming the file and the
// step, leaves no staging file, and the others are written.
func TestWriteNodeFailsOnlyTheBrokenNode(t *testing.T) {
	tests := []struct {
		name    string
		mac     string
		setup   func(t *testing.T, dir string)
		wantErr string // "" when the node must succeed anyway
		// wantReason is wantErr without what names the node or its
		// files: the same for every node that meets it.
		wantReason string
		// wantKept are files of the broken node that stay as set up or
		// as written before the failure.
		wantKept map[string]writtenFile
	}{
		{
			name: "script path is a directory",
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "nodes", "broken.ipxe", "keep"), 0o755))
			},
			wantErr:    "node broken: write DIR/nodes/broken.ipxe: rename DIR/nodes/.broken.ipxe.tmp DIR/nodes/broken.ipxe: file exists",
			wantReason: "write boot files: rename: file exists",
			// The parameters come first and are replaced.
			wantKept: map[string]writtenFile{"nodes/broken.json": {data: "{}\n", mode: 0o644}},
		},
		{
			name: "mac directory is a file",
			mac:  "b4:2e:99:ff:ff:ff",
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "nodes"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "mac"), []byte("not a directory"), 0o644))
			},
			wantErr:    "node broken: write DIR/mac/b4-2e-99-ff-ff-ff.json: open DIR/mac/.b4-2e-99-ff-ff-ff.json.tmp: not a directory",
			wantReason: "write boot files: open: not a directory",
			// Staged but not committed: the files by name stay unwritten.
			wantKept: map[string]writtenFile{"mac": {data: "not a directory", mode: 0o644}},
		},
		{
			name: "a crash's staging file is replaced",
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "nodes"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "nodes", ".broken.ipxe.tmp"), []byte("half a scr"), 0o600))
			},
			wantKept: map[string]writtenFile{
				"nodes/broken.json": {data: "{}\n", mode: 0o644},
				"nodes/broken.ipxe": {data: "#!ipxe\n", mode: 0o644},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			broken := testNode{name: "broken", mac: tt.mac, files: NodeFiles{Script: []byte("#!ipxe\n"), Parameters: []byte("{}\n")}}
			nodes := []testNode{broken}
			want := map[string]writtenFile{}
			for i := range 50 {
				n := newTestNode(i, false, "only")
				n.want(want)
				nodes = append(nodes, n)
			}
			for name, f := range tt.wantKept {
				want[name] = f
			}

			errs := writeConcurrently(dir, nodes)
			for _, n := range nodes[1:] {
				assert.NoError(t, errs[n.name], "node %s", n.name)
			}
			if tt.wantErr == "" {
				assert.NoError(t, errs["broken"])
			} else {
				assert.EqualError(t, errs["broken"], strings.ReplaceAll(tt.wantErr, "DIR", dir))
				assert.Equal(t, tt.wantReason, reason.Of(errs["broken"]))
			}
			got := readTree(t, dir)
			delete(got, "nodes/broken.ipxe/keep") // the obstacle itself
			assert.Equal(t, want, got)
		})
	}
}
