package hostlist

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{"nid0001", []string{"nid0001"}},
		{"x3000c0s[1-4,7]b0n0", []string{"x3000c0s1b0n0", "x3000c0s2b0n0", "x3000c0s3b0n0", "x3000c0s4b0n0", "x3000c0s7b0n0"}},
		{"nid[0008-0011]", []string{"nid0008", "nid0009", "nid0010", "nid0011"}},
		{"n[8-11]", []string{"n8", "n9", "n10", "n11"}},
		{"n[098-101]", []string{"n098", "n099", "n100", "n101"}},
		{"x[1-2]y[0-1]", []string{"x1y0", "x1y1", "x2y0", "x2y1"}},
		{"a,b[1-2]", []string{"a", "b1", "b2"}},
		{" a , b ", []string{"a", "b"}},
		{"[1-2]", []string{"1", "2"}},
		{"n[3,1,3]", []string{"n3", "n1", "n3"}},
		{"n[0-0]", []string{"n0"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Expand(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "empty expression"},
		{"a,,b", "empty item 2"},
		{"n[]", "empty brackets"},
		{"n[1-", "'[' without ']'"},
		{"n1]", "']' without '['"},
		{"n[1-[2]]", "brackets cannot be nested"},
		{"n[5-1]", `range "5-1" runs backwards (write 1-5)`},
		{"n[a-b]", `"a" is not a decimal number`},
		{"n[1-2-3]", `"2-3" is not a decimal number`},
		{"n[-1]", "missing number"},
		{"n[1,]", "missing number"},
		{"n[0-1000000]", "larger than 1000000 names"},
		{"n[0-999][0-999][0-1]", "expands to more than 1000000 names"},
		{"n[0-999999],m[0-1]", "expands to more than 1000000 names"},
		{"n[1234567890123456789]", "more than 18 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			names, err := Expand(tt.expr)
			require.ErrorIs(t, err, ErrSyntax)
			assert.Contains(t, err.Error(), tt.want)
			assert.Nil(t, names)
		})
	}
}

func TestExpandPatternKeepsNonNumericBrackets(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string
	}{
		{"http://[fd00::1]:8000", []string{"http://[fd00::1]:8000"}},
		{"http://[fd00::1]:[8000-8001]", []string{"http://[fd00::1]:8000", "http://[fd00::1]:8001"}},
		{"http://127.1.[0-1].[1-2]:8000", []string{"http://127.1.0.1:8000", "http://127.1.0.2:8000", "http://127.1.1.1:8000", "http://127.1.1.2:8000"}},
		{"a,b", []string{"a,b"}},
	}
	for _, tt := range tests {
		got, err := ExpandPattern(tt.pattern)
		require.NoError(t, err, tt.pattern)
		assert.Equal(t, tt.want, got)
	}
	_, err := ExpandPattern("http://h:[9-1]")
	assert.ErrorIs(t, err, ErrSyntax)
}

func TestCompress(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"nid0001"}, "nid0001"},
		{[]string{"nid0003", "nid0001", "nid0002", "nid0002"}, "nid[0001-0003]"},
		{[]string{"n9", "n10", "n11", "n13"}, "n[9-11,13]"},
		{[]string{"n09", "n10", "n9"}, "n[9,09-10]"},
		{[]string{"x3000c0s1b0n0", "x3000c0s2b0n0", "x3000c0s3b0n0", "nid0001", "nid0002"}, "nid[0001-0002],x3000c0s[1-3]b0n0"},
		{[]string{"x1c0s1b0n0", "x1c0s1b0n1", "x1c0s2b0n0", "x1c0s2b0n1"}, "x1c0s[1-2]b0n[0-1]"},
		{expandAll("x1000c[0-1]s[0-7]b0n[0-1]"), "x1000c[0-1]s[0-7]b0n[0-1]"},
		{expandAll("x1000c[0-1]s[0-7]b0n[0-1],x1000c2s0b0n0"), "x1000c[0-1]s[0-7]b0n[0-1],x1000c2s0b0n0"},
		{[]string{"x1c0s1b0n0", "x1c0s1b0n1", "x1c0s2b0n0"}, "x1c0s1b0n[0-1],x1c0s2b0n0"},
		{[]string{"login", "uan01", "nid2"}, "login,nid2,uan01"},
		{[]string{"a b", "n1"}, "a b,n1"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, Compress(tt.names))
			reversed := slices.Clone(tt.names)
			slices.Reverse(reversed)
			assert.Equal(t, tt.want, Compress(reversed), "order of input must not matter")
		})
	}
}

func expandAll(expr string) []string {
	names, err := Expand(expr)
	if err != nil {
		panic(err)
	}
	return names
}

func TestCompressRoundTripsLargeSets(t *testing.T) {
	var names []string
	for i := 1; i <= 10000; i++ {
		if i%7 != 0 {
			names = append(names, fmt.Sprintf("nid%05d", i))
		}
	}
	compressed := Compress(names)
	assert.Less(t, len(compressed), 20000)
	expanded, err := Expand(compressed)
	require.NoError(t, err)
	assert.Equal(t, names, expanded)
	assert.True(t, strings.HasPrefix(compressed, "nid[00001-00006,00008-00013,"), compressed)
}

func BenchmarkCompressTenThousandXnames(b *testing.B) {
	names := expandAll("x[1000-1004]c[0-7]s[0-7]b0n[0-1],x3000c0s[1-40]b0n0,nid[000001-009320]")
	slices.Reverse(names)
	for b.Loop() {
		Compress(names)
	}
}

func TestCompressAllKeepsEachListsPlace(t *testing.T) {
	lists := [][]string{
		{"nid1", "nid2", "nid3"},
		nil,
		{"x1", "x2"},
		{"nid1", "nid2", "nid3"},
	}
	assert.Equal(t, []string{"nid[1-3]", "", "x[1-2]", "nid[1-3]"}, CompressAll(lists))
	assert.Empty(t, CompressAll(nil))
}
