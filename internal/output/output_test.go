package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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
		ID    string  `json:"id"`
		Count int     `json:"error_count"`
		Note  *string `json:"note"`
	}
	tests := []struct {
		name   string
		format Format
		data   any
		want   string
	}{
		{"json", FormatJSON, rec{ID: "a", Count: 3}, "{\n  \"id\": \"a\",\n  \"error_count\": 3,\n  \"note\": null\n}\n"},
		{"yaml", FormatYAML, rec{ID: "a", Count: 3}, "error_count: 3\nid: a\nnote: null\n"},
		{"toml leaves out null", FormatTOML, rec{ID: "a", Count: 3}, "error_count = 3\nid = 'a'\n"},
		{"toml list under results", FormatTOML, []rec{{ID: "a"}, {ID: "b", Count: 1}},
			"[[results]]\n  error_count = 0\n  id = 'a'\n\n[[results]]\n  error_count = 1\n  id = 'b'\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Data(&buf, tc.format, tc.data))
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

func TestPlainTableMatchesTablewriter(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		rows   [][]string
	}{
		{"list", []string{"id", "template", "operation", "status", "nodes"}, [][]string{
			{"3f2a1b0c", "compute", "reboot", "complete", "16"},
			{"0b1c2d3e", "a-much-longer-template-name", "shutdown", "failed", "10000"},
		}},
		{"header wider than cells", []string{"boot set", "not_started", "v1.2", "x.y", "lastAction"}, [][]string{{"a", "b", "c", "d", "e"}}},
		{"empty cells and columns", []string{"a", "b", "c"}, [][]string{{"", "", "x"}, {"y", "", ""}, {"", "", ""}}},
		{"spaces inside cells", []string{"node", "reason"}, [][]string{{" n1", "power on: 503 Service Unavailable "}, {"n2", "-"}}},
		{"no rows", []string{"id", "status"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, plainCells(tc.header, tc.rows))
			var plain, fancy bytes.Buffer
			require.NoError(t, plainTable(&plain, tc.header, tc.rows))
			require.NoError(t, fancyTable(&fancy, tc.header, tc.rows))
			assert.Equal(t, fancy.String(), plain.String())
		})
	}
}

func TestLargeTableRendersLikeSmallOne(t *testing.T) {
	header := []string{"node", "boot set", "reason"}
	rows := make([][]string, plainTableMinRows)
	for i := range rows {
		rows[i] = []string{fmt.Sprintf("x1000c0s%db0n0", i), "compute", strings.Repeat("r", i%13)}
	}
	tests := []struct {
		name  string
		last  []string
		plain bool
	}{
		{"ascii", []string{"n", "compute", "-"}, true},
		{"wide runes", []string{"n", "compute", "電源エラー"}, false},
		{"multi-line cell", []string{"n", "compute", "line one\nline two"}, false},
		{"short row", []string{"n"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := append(slices.Clone(rows), tc.last)
			assert.Equal(t, tc.plain, plainCells(header, all))
			var got, want bytes.Buffer
			require.NoError(t, Table(&got, header, all))
			require.NoError(t, fancyTable(&want, header, all))
			assert.Equal(t, want.String(), got.String())
		})
	}
}

func TestLongSliceJSONMatchesEncoder(t *testing.T) {
	type row struct {
		ID      string            `json:"id"`
		Start   time.Time         `json:"start_time"`
		Stop    *time.Time        `json:"stop_time,omitempty"`
		Reason  string            `json:"reason"`
		Nodes   []string          `json:"nodes"`
		Labels  map[string]string `json:"labels"`
		Nothing []int             `json:"nothing"`
	}
	start := time.Date(2026, 11, 26, 1, 2, 3, 456, time.UTC)
	tests := []struct {
		name  string
		items int
	}{
		{"short", 3},
		{"just below the threshold", parallelJSONMinItems - 1},
		{"long", parallelJSONMinItems},
		{"long, uneven chunks", 3*parallelJSONMinItems + 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := make([]row, tc.items)
			for i := range rows {
				rows[i] = row{ID: fmt.Sprint(i), Start: start, Reason: "<html> & \"quotes\"", Labels: map[string]string{}}
				if i%2 == 0 {
					rows[i].Stop = &start
					rows[i].Nodes = []string{"n1", "n2"}
				}
			}
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			require.NoError(t, enc.Encode(rows))
			require.NoError(t, Data(&got, FormatJSON, rows))
			assert.Equal(t, want.String(), got.String())
		})
	}
}

func TestCells(t *testing.T) {
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.Local)
	stop := start.Add(90*time.Second + 149*time.Millisecond)
	tests := []struct{ name, got, want string }{
		{"value kept", OrDash("x3000c0s1b0n0"), "x3000c0s1b0n0"},
		{"empty is a dash", OrDash(""), "-"},
		{"blank is a dash", OrDash(" \t"), "-"},
		{"time to the second", Time(start.Add(999 * time.Millisecond)), "2024-05-01 10:00:00"},
		{"no time", Time(time.Time{}), "-"},
		{"elapsed until stop", Elapsed(start, &stop), "1m30.1s"},
		{"never started", Elapsed(time.Time{}, nil), "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.got)
		})
	}
}

func TestWrapAndClip(t *testing.T) {
	tests := []struct {
		name, text string
		width      int
		want       string
	}{
		{"fits", "BMC unreachable: connection refused", 40, "BMC unreachable: connection refused"},
		{"between words", "read power state: HTTP 503 Service Unavailable", 20, "read power state:\nHTTP 503 Service\nUnavailable"},
		{"a word longer than the width keeps its line", "see https://example.com/a/very/long/path now", 10, "see\nhttps://example.com/a/very/long/path\nnow"},
		{"empty", "", 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Wrap(tt.text, tt.width))
		})
	}
	assert.Equal(t, "x3000c0s[1-4]b0n0", Clip("x3000c0s[1-4]b0n0", 20, "-o wide"))
	assert.Equal(t, "x3000c0s[1,3… (-o wide)", Clip("x3000c0s[1,3,5,7]b0n0", 12, "-o wide"))
}
