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
