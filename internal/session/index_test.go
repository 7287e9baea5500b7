package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadIndexAcrossChunks writes indexes long enough to be decoded in
// several chunks at once and checks the sequential meaning holds: the last
// line of an id wins even in another chunk, any damaged line rejects the
// index, a torn last line is skipped.
func TestReadIndexAcrossChunks(t *testing.T) {
	const sessions = 4 * minChunk
	lines := func() [][]byte {
		var out [][]byte
		for i := range sessions {
			line, err := json.Marshal(indexEntry{storedRow: storedRow{ListRow: ListRow{ID: fmt.Sprintf("s%d", i), Status: StatusRunning}}})
			require.NoError(t, err)
			out = append(out, line)
		}
		// Superseding lines for the first sessions, in the last chunk.
		for i := range 3 {
			line, err := json.Marshal(indexEntry{storedRow: storedRow{ListRow: ListRow{ID: fmt.Sprintf("s%d", i), Status: StatusFailed}}})
			require.NoError(t, err)
			out = append(out, line)
		}
		return out
	}
	tests := []struct {
		name      string
		edit      func(lines [][]byte) []byte
		wantOK    bool
		wantLines int
	}{
		{"whole", func(l [][]byte) []byte { return append(bytes.Join(l, []byte("\n")), '\n') }, true, sessions + 3},
		{"torn tail", func(l [][]byte) []byte {
			return append(append(bytes.Join(l, []byte("\n")), '\n'), `{"id":"s9`...)
		}, true, sessions + 3},
		{"damaged line in the middle", func(l [][]byte) []byte {
			l[sessions/2] = []byte(`{"id":`)
			return append(bytes.Join(l, []byte("\n")), '\n')
		}, false, 0},
		{"line without id", func(l [][]byte) []byte {
			l[sessions-1] = []byte(`{}`)
			return append(bytes.Join(l, []byte("\n")), '\n')
		}, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			require.NoError(t, os.WriteFile(filepath.Join(s.root, indexFile), tc.edit(lines()), 0o600))
			rows, n, ok := s.readIndex()
			require.Equal(t, tc.wantOK, ok)
			if !ok {
				return
			}
			assert.Equal(t, tc.wantLines, n)
			require.Len(t, rows, sessions)
			for i := range sessions {
				want := StatusRunning
				if i < 3 {
					want = StatusFailed
				}
				assert.Equal(t, want, rows[fmt.Sprintf("s%d", i)].Status, "s%d", i)
			}
		})
	}
}

// TestRebuiltIndexVouchesForItsRows: the stamps a rebuild records from the
// files it read are the ones a later list checks with os.Stat, so that list
// trusts every finished row instead of reading each summary again.
func TestRebuiltIndexVouchesForItsRows(t *testing.T) {
	s := openStore(t)
	for i := range 3 {
		rec := &Record{ID: fmt.Sprintf("00000000-0000-0000-0000-00000000000%d", i), Template: "t", Operation: "reboot", Status: StatusComplete}
		require.NoError(t, os.Mkdir(s.Dir(rec.ID), dirMode))
		for name, v := range map[string]any{recordFile: rec, rowFile: rowOf(rec)} {
			data, err := json.Marshal(v)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(s.Dir(rec.ID), name), data, fileMode))
		}
	}
	rows, err := s.List(Filter{})
	require.NoError(t, err)
	require.Len(t, rows, 3)
	indexed, _, ok := s.readIndex()
	require.True(t, ok, "the list rebuilt the index")
	require.Len(t, indexed, 3)
	for id, row := range indexed {
		assert.True(t, s.current(row), "%s: the index's stamp matches its summary", id)
		data, stamp, err := readStamped(filepath.Join(s.Dir(id), rowFile))
		require.NoError(t, err)
		assert.Equal(t, row.File, stamp)
		assert.Contains(t, string(data), id)
	}
}
