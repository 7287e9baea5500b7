package cmd

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// TestProgressOffATerminal: with --progress and stderr not a terminal, a
// session writes one line as each phase starts and one as it ends, and
// nothing with -q; stdout stays data only.
func TestProgressOffATerminal(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 6, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultUnreachable, Nodes: []string{"x3000c0s2b0n0"}}}})
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"progress", []string{"--progress"}, []string{
			"reboot compute: shutdown started",
			"reboot compute: boot started",
			"reboot compute: shutdown done: 5✓ 1✗ in ",
			"reboot compute: boot done: 5✓ in ",
		}},
		{"quiet wins", []string{"--progress", "-q"}, nil},
		{"not a terminal, no --progress", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"session", "create", "--template", env.template, "--operation", "reboot", "-o", "json"}, tc.flags...)
			code, out, errOut := env.run(args...)
			require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
			assert.True(t, strings.HasPrefix(out, "{"), "stdout is the JSON record only:\n%s", out)
			var progress []string
			for _, l := range strings.Split(strings.TrimRight(errOut, "\n"), "\n") {
				if strings.HasPrefix(l, "reboot compute: ") {
					progress = append(progress, l)
				}
			}
			require.Len(t, progress, len(tc.want), errOut)
			// Phases overlap (nodes move on independently), so only the
			// order within each phase is fixed.
			for _, w := range tc.want {
				assert.True(t, containsPrefix(progress, w), "%q in\n%s", w, errOut)
			}
		})
	}
}

func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
