package output

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/bos-project/bos/internal/boa"
)

// durations vary from run to run; the lines are compared without them.
var took = regexp.MustCompile(` in [0-9.]+[mµn]?s$`)

func TestProgressWritesOneLinePerPhaseChangeWhenNotATerminal(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4"}
	tr := func(node string, ph boa.Phase, c boa.Category) boa.Transition {
		return boa.Transition{Node: node, Phase: ph, Category: c, BootSet: "compute"}
	}
	reboot := []boa.Phase{boa.PhaseShutdown, boa.PhaseBoot}
	tests := []struct {
		name        string
		phases      []boa.Phase
		transitions []boa.Transition
		want        []string
	}{
		{
			name:   "nodes move on independently; a failed node leaves the later phase",
			phases: reboot,
			transitions: func() []boa.Transition {
				var ts []boa.Transition
				for _, n := range nodes {
					// in_progress repeats per power action: no new line.
					ts = append(ts, tr(n, boa.PhaseShutdown, boa.InProgress), tr(n, boa.PhaseShutdown, boa.InProgress))
				}
				ts = append(ts,
					tr("n1", boa.PhaseShutdown, boa.Succeeded), tr("n1", boa.PhaseBoot, boa.InProgress),
					tr("n2", boa.PhaseShutdown, boa.Failed),
					tr("n3", boa.PhaseShutdown, boa.Succeeded), tr("n4", boa.PhaseShutdown, boa.Succeeded),
					tr("n1", boa.PhaseBoot, boa.Succeeded), tr("n3", boa.PhaseBoot, boa.Failed),
					tr("n4", boa.PhaseBoot, boa.Succeeded))
				return ts
			}(),
			want: []string{
				"reboot compute: shutdown started",
				"reboot compute: boot started",
				"reboot compute: shutdown done: 3✓ 1✗",
				"reboot compute: boot done: 2✓ 1✗",
			},
		},
		{
			name:   "excluded nodes are counted and leave the session",
			phases: []boa.Phase{boa.PhaseBoot, boa.PhaseConfigure},
			transitions: []boa.Transition{
				tr("n1", boa.PhaseBoot, boa.Excluded), tr("n2", boa.PhaseBoot, boa.Excluded),
				tr("n3", boa.PhaseBoot, boa.Excluded), tr("n4", boa.PhaseBoot, boa.Excluded),
			},
			want: []string{
				"reboot compute: boot started",
				"reboot compute: boot done: 4 excluded",
				"reboot compute: configure done: 0 nodes",
			},
		},
		{
			name:   "a session stopped midway says where it stood",
			phases: reboot,
			transitions: []boa.Transition{
				tr("n1", boa.PhaseShutdown, boa.InProgress), tr("n1", boa.PhaseShutdown, boa.Succeeded),
				tr("n2", boa.PhaseShutdown, boa.Failed),
			},
			want: []string{
				"reboot compute: shutdown started",
				"reboot compute: stopped: shutdown 2/4 1✗ · boot 0/3",
			},
		},
		{
			name:        "transitions of phases the session does not run are ignored",
			phases:      []boa.Phase{boa.PhaseShutdown},
			transitions: []boa.Transition{tr("n1", boa.PhaseBoot, boa.Succeeded)},
			want:        []string{"reboot compute: stopped: shutdown 0/4"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := NewProgress(&buf, ProgressOptions{Terminal: true, Color: true}, "reboot compute", tc.phases, len(nodes))
			for _, tr := range tc.transitions {
				p.Observe(tr)
			}
			p.Stop()
			var got []string
			for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
				got = append(got, took.ReplaceAllString(l, ""))
			}
			// A buffer is no terminal: plain lines, and no colour even when asked.
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestProgressLine(t *testing.T) {
	p := &Progress{label: "reboot compute", phases: []boa.Phase{boa.PhaseShutdown, boa.PhaseBoot}, total: 6000,
		counts: map[boa.Phase]map[boa.Category]int{
			boa.PhaseShutdown: {boa.Succeeded: 5997, boa.Failed: 3},
			boa.PhaseBoot:     {boa.Succeeded: 1200},
		},
		done: map[boa.Phase]bool{boa.PhaseShutdown: true}}
	assert.Equal(t, "reboot compute: shutdown 5997✓ 3✗ · boot 1200/5997", p.line(false))
	assert.Equal(t, "reboot compute: shutdown \x1b[32m5997✓\x1b[0m \x1b[31m3✗\x1b[0m · boot 1200/5997", p.line(true))
}
