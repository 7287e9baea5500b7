package progress

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/bos-project/bos/internal/engine"
)

// durations vary from run to run; the lines are compared without them.
var took = regexp.MustCompile(` in [0-9.]+[mµn]?s$`)

func TestProgressWritesOneLinePerPhaseChangeWhenNotATerminal(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4"}
	tr := func(node string, ph engine.Phase, c engine.Category) engine.Transition {
		return engine.Transition{Node: node, Phase: ph, Category: c, BootSet: "compute"}
	}
	reboot := []engine.Phase{engine.PhaseShutdown, engine.PhaseBoot}
	tests := []struct {
		name        string
		phases      []engine.Phase
		transitions []engine.Transition
		want        []string
	}{
		{
			name:   "nodes move on independently; a failed node leaves the later phase",
			phases: reboot,
			transitions: func() []engine.Transition {
				var ts []engine.Transition
				for _, n := range nodes {
					// in_progress repeats per power action: no new line.
					ts = append(ts, tr(n, engine.PhaseShutdown, engine.InProgress), tr(n, engine.PhaseShutdown, engine.InProgress))
				}
				ts = append(ts,
					tr("n1", engine.PhaseShutdown, engine.Succeeded), tr("n1", engine.PhaseBoot, engine.InProgress),
					tr("n2", engine.PhaseShutdown, engine.Failed),
					tr("n3", engine.PhaseShutdown, engine.Succeeded), tr("n4", engine.PhaseShutdown, engine.Succeeded),
					tr("n1", engine.PhaseBoot, engine.Succeeded), tr("n3", engine.PhaseBoot, engine.Failed),
					tr("n4", engine.PhaseBoot, engine.Succeeded))
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
			phases: []engine.Phase{engine.PhaseBoot, engine.PhaseConfigure},
			transitions: []engine.Transition{
				tr("n1", engine.PhaseBoot, engine.Excluded), tr("n2", engine.PhaseBoot, engine.Excluded),
				tr("n3", engine.PhaseBoot, engine.Excluded), tr("n4", engine.PhaseBoot, engine.Excluded),
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
			transitions: []engine.Transition{
				tr("n1", engine.PhaseShutdown, engine.InProgress), tr("n1", engine.PhaseShutdown, engine.Succeeded),
				tr("n2", engine.PhaseShutdown, engine.Failed),
			},
			want: []string{
				"reboot compute: shutdown started",
				"reboot compute: stopped: shutdown 2/4 1✗ · boot 0/3",
			},
		},
		{
			name:        "transitions of phases the session does not run are ignored",
			phases:      []engine.Phase{engine.PhaseShutdown},
			transitions: []engine.Transition{tr("n1", engine.PhaseBoot, engine.Succeeded)},
			want:        []string{"reboot compute: stopped: shutdown 0/4"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := New(&buf, Options{Terminal: true, Color: true}, "reboot compute", tc.phases, len(nodes))
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
	p := &Progress{label: "reboot compute", phases: []engine.Phase{engine.PhaseShutdown, engine.PhaseBoot}, total: 6000,
		counts: map[engine.Phase]map[engine.Category]int{
			engine.PhaseShutdown: {engine.Succeeded: 5997, engine.Failed: 3},
			engine.PhaseBoot:     {engine.Succeeded: 1200},
		},
		done: map[engine.Phase]bool{engine.PhaseShutdown: true}}
	assert.Equal(t, "reboot compute: shutdown 5997✓ 3✗ · boot 1200/5997", p.line(false))
	assert.Equal(t, "reboot compute: shutdown \x1b[32m5997✓\x1b[0m \x1b[31m3✗\x1b[0m · boot 1200/5997", p.line(true))
}
