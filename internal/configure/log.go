package configure

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// sessionLog serialises whole lines from concurrent runs into the session
// log, each tagged with its batch, so interleaved runs stay readable.
type sessionLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *sessionLog) batch(n int64) *batchLog {
	return l.tagged(fmt.Sprintf("configure[%d] ", n))
}

func (l *sessionLog) tagged(prefix string) *batchLog {
	return &batchLog{log: l, prefix: prefix}
}

// batchLog is one run's view of the session log.
type batchLog struct {
	log    *sessionLog
	prefix string
}

func (b *batchLog) line(text string) {
	if b.log.w == nil {
		return
	}
	b.log.mu.Lock()
	defer b.log.mu.Unlock()
	// A log that stops accepting writes must not stop the configuration;
	// the per-node results still reach the session record.
	_, _ = io.WriteString(b.log.w, b.prefix+text+"\n")
}

func (b *batchLog) printf(format string, args ...any) {
	b.line(fmt.Sprintf(format, args...))
}

// lineWriter hands each complete line written to it to onLine; os/exec
// copies a process's output into it from one goroutine.
type lineWriter struct {
	onLine  func(line string)
	pending []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		w.onLine(string(bytes.TrimRight(w.pending[:i], "\r")))
		w.pending = w.pending[i+1:]
	}
	return len(p), nil
}

// flush hands over a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.pending) > 0 {
		w.onLine(string(w.pending))
		w.pending = nil
	}
}

// stderrSummary remembers the line of a runner's stderr that best says why
// it stopped: the last "ERROR!" line (Ansible's), else the last line.
type stderrSummary struct {
	lastError, lastLine string
}

func (s *stderrSummary) add(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	s.lastLine = line
	if strings.HasPrefix(line, "ERROR!") {
		s.lastError = line
	}
}

func (s *stderrSummary) String() string {
	if s.lastError != "" {
		return s.lastError
	}
	return s.lastLine
}
