package template

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFind(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	write := func(dir, file, content string) string {
		path := filepath.Join(dir, file)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	compute := write(first, "compute.yaml", "name: compute\n")
	uan := write(second, "uan.json", `{"name": "uan"}`)
	byField := write(second, "site-gpu-v2.yml", "name: gpu\n")
	write(first, "broken.yaml", "name: [\n")
	write(first, "a.yaml", "name: twin\n")
	write(second, "b.yaml", "name: twin\n")
	require.NoError(t, os.Mkdir(filepath.Join(first, "dir.yaml"), 0o700))
	dirs := []string{first, second, filepath.Join(first, "missing")}

	tests := []struct {
		arg, want, wantErr string
	}{
		{arg: "compute", want: compute},
		{arg: "uan", want: uan},
		{arg: "gpu", want: byField},
		{arg: compute, want: compute},
		{arg: "twin", wantErr: "is claimed by several files: " + filepath.Join(first, "a.yaml") + ", " + filepath.Join(second, "b.yaml")},
		{arg: "nosuch", wantErr: `no template named "nosuch" in ` + first},
		{arg: "nosuch.yaml", wantErr: "nosuch.yaml: no such file"},
		{arg: "./compute", wantErr: "no such file"},
		{arg: filepath.Join(first, "dir.yaml"), wantErr: "is a directory"},
		{arg: "", wantErr: "no template given"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := Find(tt.arg, dirs)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	_, err := Find("compute", nil)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "no template directories (set --templates or BOS_TEMPLATES)")
}

func TestFilesAndHeaders(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	for file, content := range map[string]string{
		filepath.Join(first, "b.json"):    `{"name": "b", "description": "from JSON"}`,
		filepath.Join(first, "a.yml"):     "name: a\n",
		filepath.Join(first, "notes.txt"): "not a template\n",
		filepath.Join(second, "c.yaml"):   "name: [\n",
	} {
		require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(first, "sub.yaml"), 0o700))

	files, err := Files([]string{second, filepath.Join(first, "missing"), first})
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(second, "c.yaml"), filepath.Join(first, "a.yml"), filepath.Join(first, "b.json")}, files,
		"search order, then file name order; directories and other files left out")

	header, err := ReadHeader(filepath.Join(first, "b.json"))
	require.NoError(t, err)
	assert.Equal(t, Header{Name: "b", Description: "from JSON"}, header)
	_, err = ReadHeader(filepath.Join(second, "c.yaml"))
	assert.Error(t, err)
	_, err = ReadHeader(filepath.Join(second, "none.yaml"))
	assert.Error(t, err)
}
