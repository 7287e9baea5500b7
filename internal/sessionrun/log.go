package sessionrun

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/session"
)

// sessionLog writes session.log: one human line per event, what BOA
// printed to its pod log. Write errors are dropped: the log is for people,
// events.jsonl is the record.
type sessionLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *sessionLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = fmt.Fprintf(l.w, time.Now().UTC().Format("2006-01-02T15:04:05.000Z")+" "+format+"\n", args...)
}

func (l *sessionLog) started(rec *session.Record, plan engine.Plan) {
	verb := "started"
	if len(plan.Resume) > 0 {
		finished := 0
		for _, p := range plan.Resume {
			if p.Finished {
				finished++
			}
		}
		verb = fmt.Sprintf("resumed (%d of %d nodes already finished)", finished, len(rec.Nodes))
	}
	l.printf("session %s %s: %s of template %s on %d nodes, pace %s", rec.ID, verb, rec.Operation, rec.Template, len(rec.Nodes), rec.Pace)
	for _, note := range rec.Notes {
		l.printf("note: %s", note)
	}
}

func (l *sessionLog) transition(t engine.Transition) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s", t.Node, t.BootSet, t.Phase, t.Category)
	switch {
	case t.Sent:
		fmt.Fprintf(&b, ": sent %s", t.Action)
		if t.ResetType != "" {
			fmt.Fprintf(&b, " (%s)", t.ResetType)
		}
	case t.Action != "":
		// Recorded before the request goes out: it may never arrive.
		fmt.Fprintf(&b, ": sending %s", t.Action)
	}
	if t.Reason != "" {
		fmt.Fprintf(&b, ": %s", t.Reason)
	}
	for _, warning := range t.Warnings {
		fmt.Fprintf(&b, " (warning: %s)", warning)
	}
	l.printf("%s", b.String())
}

func (l *sessionLog) finished(rec *session.Record, stopped error) {
	if stopped != nil {
		l.printf("session %s stopped: %v; %d nodes left unfinished (reason %q)", rec.ID, stopped, rec.Summary.Pending, session.ReasonCancelled)
	}
	s := rec.Summary
	l.printf("session %s %s: %d nodes, %d succeeded, %d failed, %d excluded, %d pending", rec.ID, rec.Status, s.Total, s.Succeeded, s.Failed, s.Excluded, s.Pending)
}
