package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadLimit(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
		wantErr string // substring; "" for no error
		empty   bool   // the error is ErrEmptyLimit
	}{
		{name: "one a line, compressed", content: "nid003\nnid001\nnid002\n", want: "nid[001-003]"},
		{name: "comma separated, duplicates dropped", content: "nid001,nid002, nid002 ,uan01", want: "nid[001-002],uan01"},
		{name: "comments and blank lines", content: "# rack 3\n\nnid001  # the first\n   \n#nid002\nnid004\n", want: "nid[001,004]"},
		{name: "blank separated on a line", content: "nid001 nid002\tnid003", want: "nid[001-003]"},
		{name: "CRLF", content: "nid001\r\nnid002\r\n", want: "nid[001-002]"},
		{name: "terms kept in order", content: "compute\n!nid[001-004]\n&rack3", want: "compute,!nid[001-004],&rack3"},
		{name: "a range split at a blank", content: "nid[001, 003]", want: "nid[001,003]"},
		{name: "only comments", content: "# nothing here\n\n  # nor here\n", wantErr: "holds only blank lines and # comments", empty: true},
		{name: "empty file", content: "", wantErr: "--limit is empty", empty: true},
		{name: "only commas", content: ",\n , ,\n", empty: true, wantErr: "--limit is empty"},
		{name: "bad term at its line", content: "nid001\n\nnid[003\n", wantErr: ":3: invalid limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "nodes.txt")
			require.NoError(t, os.WriteFile(file, []byte(tc.content), 0o600))
			for _, from := range []struct {
				arg   string
				stdin string
			}{{"@" + file, "not read"}, {StdinLimit, tc.content}} {
				got, err := ReadLimit(from.arg, strings.NewReader(from.stdin))
				if tc.wantErr != "" {
					require.Error(t, err, from.arg)
					assert.Contains(t, err.Error(), tc.wantErr, from.arg)
					assert.ErrorIs(t, err, ErrInvalidLimit, "exit 2")
					assert.Equal(t, tc.empty, errors.Is(err, ErrEmptyLimit), from.arg)
					continue
				}
				require.NoError(t, err, from.arg)
				assert.Equal(t, tc.want, got, from.arg)
				_, err = ParseLimit(got)
				assert.NoError(t, err, "the result is a limit expression")
			}
		})
	}
}

func TestReadLimitPassesOtherLimits(t *testing.T) {
	for _, arg := range []string{"", "nid001", "all", "x3000c0s[1-4]b0n0,!x3000c0s2b0n0", "a@b"} {
		got, err := ReadLimit(arg, strings.NewReader("nid009"))
		require.NoError(t, err)
		assert.Equal(t, arg, got)
	}
}

func TestReadLimitFileErrors(t *testing.T) {
	_, err := ReadLimit("@", nil)
	assert.ErrorContains(t, err, "name the file after the @")
	assert.ErrorIs(t, err, ErrInvalidLimit)

	missing := filepath.Join(t.TempDir(), "nosuch.txt")
	_, err = ReadLimit("@"+missing, nil)
	assert.ErrorContains(t, err, "--limit @"+missing)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorIs(t, err, ErrInvalidLimit)
}
