package output

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/briandowns/spinner"

	"github.com/bos-project/bos/internal/boa"
)

// Progress shows a running session's per-phase counts on stderr: a live
// spinner line on a terminal, otherwise one plain line whenever the counts
// change (at most once per PlainEvery), so logs stay readable.
type Progress struct {
	label      string
	phases     []boa.Phase
	total      int
	w          io.Writer
	spin       *spinner.Spinner
	plainEvery time.Duration

	mu        sync.Mutex
	counts    map[boa.Phase]map[boa.Category]int
	lastLine  string
	lastPrint time.Time
}

// NewProgress starts a progress display for a session of total nodes going
// through phases. With terminal set, w must be the terminal (*os.File).
func NewProgress(w io.Writer, terminal bool, label string, phases []boa.Phase, total int) *Progress {
	p := &Progress{
		label: label, phases: phases, total: total, w: w, plainEvery: time.Second,
		counts: make(map[boa.Phase]map[boa.Category]int, len(phases)),
	}
	for _, ph := range phases {
		p.counts[ph] = map[boa.Category]int{}
	}
	if f, ok := w.(*os.File); ok && terminal {
		p.spin = spinner.New(spinner.CharSets[14], 120*time.Millisecond, spinner.WithWriterFile(f))
		p.spin.Suffix = " " + p.line()
		p.spin.Start()
	} else {
		p.emit(p.line(), true)
	}
	return p
}

// Observe records one transition; safe for concurrent use.
func (p *Progress) Observe(t boa.Transition) {
	p.mu.Lock()
	defer p.mu.Unlock()
	phaseCounts, ok := p.counts[t.Phase]
	if !ok {
		return
	}
	// Only the end of a phase moves the counters; in_progress repeats
	// (one per power action) would otherwise count a node twice.
	if t.Category == boa.InProgress {
		return
	}
	phaseCounts[t.Category]++
	line := p.line()
	if p.spin != nil {
		p.spin.Lock()
		p.spin.Suffix = " " + line
		p.spin.Unlock()
		return
	}
	p.emit(line, false)
}

// Stop ends the display, printing the final counts once.
func (p *Progress) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.line()
	if p.spin != nil {
		p.spin.Stop()
		fmt.Fprintln(p.w, line)
		return
	}
	p.emit(line, true)
}

// line renders e.g. "reboot compute: shutdown 14✓ 2✗ · boot 12/16".
func (p *Progress) line() string {
	parts := make([]string, 0, len(p.phases))
	for _, ph := range p.phases {
		c := p.counts[ph]
		done := c[boa.Succeeded] + c[boa.Failed] + c[boa.Excluded]
		s := fmt.Sprintf("%s %d/%d", ph, done, p.total)
		if c[boa.Succeeded] > 0 {
			s += fmt.Sprintf(" %d✓", c[boa.Succeeded])
		}
		if c[boa.Failed] > 0 {
			s += fmt.Sprintf(" %d✗", c[boa.Failed])
		}
		if c[boa.Excluded] > 0 {
			s += fmt.Sprintf(" %d excluded", c[boa.Excluded])
		}
		parts = append(parts, s)
	}
	return p.label + ": " + strings.Join(parts, " · ")
}

func (p *Progress) emit(line string, force bool) {
	now := time.Now()
	if line == p.lastLine || (!force && now.Sub(p.lastPrint) < p.plainEvery) {
		return
	}
	p.lastLine, p.lastPrint = line, now
	fmt.Fprintln(p.w, line)
}
