package hostlist

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzHostlistExpand(f *testing.F) {
	for _, seed := range []string{
		"x3000c0s[1-4,7]b0n0", "nid[0001-0128]", "a,b[1-2]", "n[098-101]", "x[1-2]y[0-1]", "n[1,01,2]",
		"n[", "n]", "[]", "n[5-1]", "n[0-999][0-999][0-9]", " , ", "n[1-2-3]", "http://[fd00::1]:[8000-8001]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		names, err := Expand(expr)
		if _, patternErr := ExpandPattern(expr); patternErr != nil {
			require.ErrorIs(t, patternErr, ErrSyntax)
		}
		if err != nil {
			require.ErrorIs(t, err, ErrSyntax)
			require.Nil(t, names)
			return
		}
		require.NotEmpty(t, names)
		require.LessOrEqual(t, len(names), MaxNames)
		if len(names) > 10000 {
			return // big sets only slow the fuzzer down; TestCompressRoundTripsLargeSets covers them
		}
		compressed := Compress(names)
		again, err := Expand(compressed)
		if slices.ContainsFunc(names, func(n string) bool { return strings.ContainsAny(n, "[], \t\r\n") || n == "" }) {
			return // Compress lists such names literally; they cannot round-trip
		}
		require.NoError(t, err, "Compress(%q) = %q", names, compressed)
		require.Equal(t, sortedSet(names), sortedSet(again), "Compress(%q) = %q", names, compressed)
		require.Equal(t, compressed, Compress(again), "Compress must be canonical")
	})
}

func sortedSet(names []string) []string {
	set := slices.Clone(names)
	slices.Sort(set)
	return slices.Compact(set)
}
