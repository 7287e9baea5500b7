package progress

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// syncBuffer is a bytes.Buffer safe to read while the display writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNodesWaitingOnSilentBMCs: while every node waits on a BMC that does
// not answer, no transition comes; the display says so, on the live line
// and, elsewhere, in a line of its own whenever the number changes.
func TestNodesWaitingOnSilentBMCs(t *testing.T) {
	var out syncBuffer
	p := New(&out, Options{}, "reboot compute", []engine.Phase{engine.PhaseShutdown, engine.PhaseBoot}, 12)
	var waiting atomic.Int64
	p.WatchNotAnswering(func() int { return int(waiting.Load()) })
	p.Observe(engine.Transition{Node: "n1", Phase: engine.PhaseShutdown, Category: engine.InProgress})

	waiting.Store(12)
	require.Eventually(t, func() bool {
		return strings.Contains(out.String(), "reboot compute: 12 nodes waiting on BMCs that do not answer\n")
	}, 5*time.Second, 10*time.Millisecond)
	p.mu.Lock()
	assert.Equal(t, "reboot compute: shutdown 0/12 · boot 0/12 · 12 nodes waiting on BMCs that do not answer", p.line(false))
	p.mu.Unlock()

	waiting.Store(1)
	require.Eventually(t, func() bool {
		return strings.Contains(out.String(), "reboot compute: 1 node waiting on a BMC that does not answer\n")
	}, 5*time.Second, 10*time.Millisecond)
	waiting.Store(0)
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.line(false) == "reboot compute: shutdown 0/12 · boot 0/12"
	}, 5*time.Second, 10*time.Millisecond, "the BMCs answer again: the line says nothing of them")
	p.Stop()
	assert.Equal(t, 2, strings.Count(out.String(), "waiting on"), "one line per change to a number of nodes:\n%s", out.String())
}
