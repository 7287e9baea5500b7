package sessionrun

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/session"
)

// Retry is a new session that runs some nodes of an earlier one again, as
// that one ran them: its template (the copy it kept), its boot sets with
// their ordinals, boot method and configuration, its operation, pace,
// inventory and run settings. `bos session retry` runs it; Command is the
// same as a create command line, which bos prints for people and scripts
// to keep.
type Retry struct {
	From *session.Record
	// Nodes are the nodes to run again, in From's order.
	Nodes []string
	// Unfinished: Nodes are those From left unfinished, not its failed
	// ones.
	Unfinished bool
}

// NewRetry picks the nodes of session rec to run again: its failed ones,
// or with unfinished (or when none failed) those it left unfinished. An
// interrupted session's unfinished nodes are resumed, not retried: a
// retry would leave the session to act on them again when resumed.
func NewRetry(rec *session.Record, unfinished bool) (*Retry, error) {
	if rec.Status == session.StatusRunning {
		return nil, fmt.Errorf("retry session %s: %w; retry it once it ended, or cancel it first", rec.ID, session.ErrRunning)
	}
	retry := &Retry{From: rec}
	if !unfinished {
		retry.Nodes = rec.FailedNodes()
	}
	if len(retry.Nodes) == 0 {
		retry.Unfinished = true
		for _, node := range rec.UnfinishedNodes() {
			retry.Nodes = append(retry.Nodes, node.Node)
		}
	}
	switch {
	case len(retry.Nodes) == 0 && unfinished:
		return nil, fmt.Errorf("session %s (%s) left no unfinished nodes to retry", rec.ID, rec.Status)
	case len(retry.Nodes) == 0:
		return nil, fmt.Errorf("session %s (%s) has no failed or unfinished nodes to retry", rec.ID, rec.Status)
	case retry.Unfinished && rec.Status == session.StatusInterrupted:
		return nil, fmt.Errorf("session %s is interrupted: resume it with 'bos session resume %s', which finishes its %s "+
			"where each stands (or cancel it first, then retry them)", rec.ID, rec.ID, nodeCount(len(retry.Nodes), "unfinished"))
	}
	return retry, nil
}

// Limit is the --limit that selects exactly the retry's nodes: a
// hostlist, so a retry of thousands of nodes stays one short line.
func (r *Retry) Limit() string { return hostlist.Compress(r.Nodes) }

// Command is the `bos session create` (or `bos power`) command line that runs the retry's
// nodes with the inputs of the session retried: its template file, and
// every input that differs from what bos takes when not told (its pace,
// include-disabled, its inventory, its run settings as flags), shell-quoted,
// so that it runs the same from any directory.
func (r *Retry) Command() string {
	rec := r.From
	args := []string{"bos", "session", "create",
		"--template", cmp.Or(rec.TemplateFile, rec.Template),
		"--operation", rec.Operation,
		"--limit", r.Limit()}
	if verb, ok := powerVerb(rec.Template, engine.Operation(rec.Operation)); ok {
		args = []string{"bos", "power", verb, r.Limit()}
	}
	if rec.Pace != "" && rec.Pace != string(engine.Independent) {
		args = append(args, "--pace", rec.Pace)
	}
	if rec.IncludeDisabled {
		args = append(args, "--include-disabled")
	}
	if rec.Inventory != "" {
		args = append(args, "--inventory", rec.Inventory)
	}
	for _, s := range config.SettingsIn(config.SessionRun) {
		value, ok := rec.Settings[s.Key]
		switch {
		case !ok:
		case s.Kind() == config.FlagSwitch:
			args = append(args, "--"+s.Flag+"="+value)
		default:
			args = append(args, "--"+s.Flag, value)
		}
	}
	quoted := make([]string, len(args))
	for i, arg := range args {
		quoted[i] = shellQuote(arg)
	}
	return strings.Join(quoted, " ")
}

// PrepareRetry prepares the retry's new session, checking its boot images
// and configurations before anything is touched, as Prepare does.
func (r *Runner) PrepareRetry(ctx context.Context, retry *Retry) (*Prepared, error) {
	keep := make(map[string]bool, len(retry.Nodes))
	for _, node := range retry.Nodes {
		keep[node] = true
	}
	p, err := r.load(retry.From, keep)
	if err != nil {
		return nil, err
	}
	p.Plan.SessionID = ""
	p.Request.Limit = retry.Limit()
	if err := r.resolveConfigurations(ctx, p); err != nil {
		return nil, err
	}
	if p.Boot, err = r.describeBoot(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// RetryCommand is the create command line that retries the failed nodes
// of session rec (see Retry.Command); "" when none failed, or while it
// runs.
func RetryCommand(rec *session.Record) string {
	failed := rec.FailedNodes()
	if rec.Status == session.StatusRunning || len(failed) == 0 {
		return ""
	}
	return (&Retry{From: rec, Nodes: failed}).Command()
}

// FinishCommand is the one command that finishes the nodes session rec
// left unfinished: resuming an interrupted session carries each on from
// where it stood; any other session gets a retry of them. "" when none is
// unfinished, or while it runs.
func FinishCommand(rec *session.Record) string {
	switch {
	case rec.Status == session.StatusRunning || rec.Summary.Pending == 0:
		return ""
	case rec.Status == session.StatusInterrupted:
		return "bos session resume " + rec.ID
	}
	return "bos session retry " + rec.ID + " --unfinished"
}

// NextStep says what is left to do with session rec, which has ended:
// finish its unfinished nodes, retry its failed ones, or nothing.
func NextStep(rec *session.Record) string {
	var steps []string
	if finish := FinishCommand(rec); finish != "" {
		steps = append(steps, fmt.Sprintf("finish its %s with '%s'", nodeCount(rec.Summary.Pending, "unfinished"), finish))
	}
	if failed := rec.FailedNodes(); len(failed) > 0 {
		steps = append(steps, fmt.Sprintf("retry its %s with 'bos session retry %s'", nodeCount(len(failed), "failed"), rec.ID))
	}
	if len(steps) == 0 {
		return "nothing is left to do"
	}
	return strings.Join(steps, "; ")
}

// nodeCount is "1 <kind> node" or "N <kind> nodes".
func nodeCount(n int, kind string) string {
	if n == 1 {
		return "1 " + kind + " node"
	}
	return fmt.Sprintf("%d %s nodes", n, kind)
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// word characters.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:=@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
