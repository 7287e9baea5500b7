package output

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTableIsPlainAndAligned(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Table(&buf, []string{"id", "status"}, [][]string{
		{"3f2a", "complete"},
		{"0b1c-long-id", "failed"},
	}))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	assert.True(t, strings.HasPrefix(lines[0], "ID"), "header upper-cased, no border: %q", lines[0])
	assert.NotContains(t, buf.String(), "│")
	col := strings.Index(lines[0], "STATUS")
	require.Positive(t, col)
	for _, l := range lines[1:] {
		assert.NotEqual(t, ' ', rune(l[col]), "column start aligned in %q", l)
		assert.Equal(t, ' ', rune(l[col-1]), "column separated in %q", l)
	}
}

func TestDataFormats(t *testing.T) {
	type rec struct {
		ID    string `json:"id"`
		Count int    `json:"error_count"`
	}
	tests := []struct {
		format Format
		want   string
	}{
		{FormatJSON, "{\n  \"id\": \"a\",\n  \"error_count\": 3\n}\n"},
		{FormatYAML, "error_count: 3\nid: a\n"},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Data(&buf, tc.format, rec{ID: "a", Count: 3}))
			assert.Equal(t, tc.want, buf.String())
		})
	}
	assert.Error(t, Data(&bytes.Buffer{}, FormatTable, rec{}))
}

func TestTableHasNoTrailingSpaces(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Table(&buf, []string{"a", "b"}, [][]string{{"x", "y"}}))
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		assert.Equal(t, strings.TrimRight(l, " "), l)
	}
	assert.Equal(t, "A  B\nx  y\n", buf.String())
}
