package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/briandowns/spinner"

	"github.com/bos-project/bos/internal/engine"
)

// Options says where a progress display may draw and how.
type Options struct {
	// Terminal: the writer is a terminal (an *os.File), so a spinner line is
	// redrawn in place. Otherwise one plain line is written when a phase
	// starts and one when it ends, which keeps logs and CI output readable
	// at any fleet size.
	Terminal bool
	// Color marks succeeded and failed counts in green and red. Only
	// meaningful with Terminal; callers leave it off for NO_COLOR and
	// --no-color.
	Color bool
}

// Progress shows a running session's per-phase counts on stderr, e.g.
// "reboot compute: shutdown 5997✓ 3✗ · boot 1200/5997".
type Progress struct {
	label  string
	phases []engine.Phase
	total  int
	w      io.Writer
	color  bool
	spin   *spinner.Spinner

	mu      sync.Mutex
	counts  map[engine.Phase]map[engine.Category]int
	started map[engine.Phase]time.Time
	done    map[engine.Phase]bool
	// notAnswering is how many nodes wait on BMCs that do not answer, as
	// last read (see WatchNotAnswering); stopWatch ends the reading.
	notAnswering int
	stopWatch    chan struct{}
	watching     sync.WaitGroup
}

// watchEvery is how often WatchNotAnswering reads its count: a BMC that
// does not answer shows within a second, and reading costs a pass over
// the BMCs.
const watchEvery = 500 * time.Millisecond

// NewProgress starts a progress display for a session of total nodes going
// through phases, in order.
func New(w io.Writer, opts Options, label string, phases []engine.Phase, total int) *Progress {
	p := &Progress{
		label: label, phases: phases, total: total, w: w,
		counts:  make(map[engine.Phase]map[engine.Category]int, len(phases)),
		started: make(map[engine.Phase]time.Time, len(phases)),
		done:    make(map[engine.Phase]bool, len(phases)),
	}
	for _, ph := range phases {
		p.counts[ph] = map[engine.Category]int{}
	}
	if f, ok := w.(*os.File); ok && opts.Terminal {
		p.color = opts.Color
		p.spin = spinner.New(spinner.CharSets[14], 120*time.Millisecond, spinner.WithWriterFile(f))
		// The spinner paints its character white by default; "reset" is
		// the one attribute that leaves it uncoloured.
		spinColor := "reset"
		if p.color {
			spinColor = "cyan"
		}
		_ = p.spin.Color(spinColor) // both names are valid; Color fails only on unknown ones
		// The live line stays free of escape codes: the spinner measures
		// it in runes to know how much to erase, and colour codes would
		// make it erase lines above it.
		p.spin.Suffix = " " + p.line(false)
		p.spin.Start()
	}
	return p
}

// Observe records one transition; safe for concurrent use.
func (p *Progress) Observe(t engine.Transition) {
	p.mu.Lock()
	defer p.mu.Unlock()
	phaseCounts, ok := p.counts[t.Phase]
	if !ok {
		return
	}
	if _, ok := p.started[t.Phase]; !ok && t.Category != engine.NotStarted {
		p.started[t.Phase] = time.Now()
		// No node count: while earlier phases run, how many nodes will
		// reach this one is not known yet.
		p.plain(fmt.Sprintf("%s started", t.Phase))
	}
	// Only the end of a phase moves the counters; in_progress repeats
	// (one per power action) would otherwise count a node twice.
	if t.Category == engine.InProgress || t.Category == engine.NotStarted {
		return
	}
	phaseCounts[t.Category]++
	p.markDone()
	p.redraw()
}

// WatchNotAnswering shows, until Stop, how many nodes wait on BMCs that
// do not answer, as count says: a session held by hung BMCs otherwise
// looks busy, its counters still, for request_timeout × attempts. On a
// terminal the live line says it; elsewhere a line is written each time
// the number changes.
func (p *Progress) WatchNotAnswering(count func() int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopWatch != nil {
		return
	}
	p.stopWatch = make(chan struct{})
	p.watching.Add(1)
	go func() {
		defer p.watching.Done()
		tick := time.NewTicker(watchEvery)
		defer tick.Stop()
		for {
			select {
			case <-p.stopWatch:
				return
			case <-tick.C:
				p.setNotAnswering(count())
			}
		}
	}()
}

func (p *Progress) setNotAnswering(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n == p.notAnswering {
		return
	}
	p.notAnswering = n
	if n > 0 {
		p.plain(notAnsweringText(n))
	}
	p.redraw()
}

// notAnsweringText is "12 nodes waiting on BMCs that do not answer".
func notAnsweringText(n int) string {
	if n == 1 {
		return "1 node waiting on a BMC that does not answer"
	}
	return fmt.Sprintf("%d nodes waiting on BMCs that do not answer", n)
}

// redraw puts the current counts on the terminal's live line.
func (p *Progress) redraw() {
	if p.spin != nil {
		p.spin.Lock()
		p.spin.Suffix = " " + p.line(false)
		p.spin.Unlock()
	}
}

// Stop ends the display. On a terminal the spinner gives way to the final
// counts; elsewhere a session stopped before its phases ended (cancelled,
// interrupted) gets one last line saying where it stood.
func (p *Progress) Stop() {
	p.mu.Lock()
	stopWatch := p.stopWatch
	p.mu.Unlock()
	if stopWatch != nil {
		close(stopWatch)
		p.watching.Wait()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notAnswering = 0
	if p.spin != nil {
		p.spin.Stop()
		fmt.Fprintln(p.w, p.line(p.color))
		return
	}
	for _, ph := range p.phases {
		if !p.done[ph] {
			p.plain("stopped: " + p.phasesLine(false))
			return
		}
	}
}

// markDone finds the phases that have just ended, in order: a phase ends
// when every phase before it has and each node still in the session has
// finished it.
func (p *Progress) markDone() {
	for _, ph := range p.phases {
		if p.done[ph] {
			continue
		}
		if p.finished(ph) < p.expected(ph) {
			return
		}
		p.done[ph] = true
		took := ""
		if start, ok := p.started[ph]; ok {
			took = " in " + time.Since(start).Round(100*time.Millisecond).String()
		}
		p.plain(fmt.Sprintf("%s done: %s%s", ph, p.marks(ph, false), took))
	}
}

// expected is how many nodes reach phase ph: failed and excluded nodes
// leave the session's remaining phases.
func (p *Progress) expected(ph engine.Phase) int {
	n := p.total
	for _, earlier := range p.phases {
		if earlier == ph {
			break
		}
		n -= p.counts[earlier][engine.Failed] + p.counts[earlier][engine.Excluded]
	}
	return n
}

func (p *Progress) finished(ph engine.Phase) int {
	c := p.counts[ph]
	return c[engine.Succeeded] + c[engine.Failed] + c[engine.Excluded]
}

func (p *Progress) line(color bool) string {
	line := p.label + ": " + p.phasesLine(color)
	if p.notAnswering > 0 {
		line += " · " + notAnsweringText(p.notAnswering)
	}
	return line
}

// phasesLine renders every phase: an ended one by its outcome ("shutdown
// 5997✓ 3✗"), a running or waiting one by how far it is ("boot 1200/5997").
func (p *Progress) phasesLine(color bool) string {
	parts := make([]string, 0, len(p.phases))
	for _, ph := range p.phases {
		if p.done[ph] {
			parts = append(parts, fmt.Sprintf("%s %s", ph, p.marks(ph, color)))
			continue
		}
		s := fmt.Sprintf("%s %d/%d", ph, p.finished(ph), p.expected(ph))
		if marks := p.failureMarks(ph, color); marks != "" {
			s += " " + marks
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

// marks is an ended phase's outcome: "5997✓ 3✗ 2 excluded", or "0 nodes"
// when every node had left the session before it.
func (p *Progress) marks(ph engine.Phase, color bool) string {
	var s []string
	if n := p.counts[ph][engine.Succeeded]; n > 0 {
		s = append(s, paint(color, green, fmt.Sprintf("%d✓", n)))
	}
	if f := p.failureMarks(ph, color); f != "" {
		s = append(s, f)
	}
	if len(s) == 0 {
		return "0 nodes"
	}
	return strings.Join(s, " ")
}

func (p *Progress) failureMarks(ph engine.Phase, color bool) string {
	var s []string
	if n := p.counts[ph][engine.Failed]; n > 0 {
		s = append(s, paint(color, red, fmt.Sprintf("%d✗", n)))
	}
	if n := p.counts[ph][engine.Excluded]; n > 0 {
		s = append(s, fmt.Sprintf("%d excluded", n))
	}
	return strings.Join(s, " ")
}

// plain writes one line when stderr is not a terminal; on a terminal the
// spinner line already shows the same.
func (p *Progress) plain(msg string) {
	if p.spin == nil {
		fmt.Fprintf(p.w, "%s: %s\n", p.label, msg)
	}
}

const (
	green = "\x1b[32m"
	red   = "\x1b[31m"
	reset = "\x1b[0m"
)

func paint(color bool, code, s string) string {
	if !color {
		return s
	}
	return code + s + reset
}
