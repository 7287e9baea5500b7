package session

import (
	"fmt"
	"io"

	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/sessionrun"
)

// recordView is a session record as create, retry, resume, cancel and
// describe print it with -o json or yaml: the record, and what is left to
// do with its nodes.
type recordView struct {
	*session.Record
	nextSteps
}

func viewOf(rec *session.Record) recordView {
	return recordView{Record: rec, nextSteps: nextStepsOf(rec)}
}

// nextSteps are what is left to do with the nodes of a session that ended.
type nextSteps struct {
	// RetryCommand is the create command line that retries the failed
	// nodes with the session's own inputs.
	RetryCommand string `json:"retry_command,omitempty"`
	// Unfinished are the nodes the session left mid-operation, grouped by
	// where they stand; FinishCommand is the one command that finishes
	// them.
	Unfinished    []session.UnfinishedGroup `json:"unfinished,omitempty"`
	FinishCommand string                    `json:"finish_command,omitempty"`
}

func nextStepsOf(rec *session.Record) nextSteps {
	if rec.Status == session.StatusRunning {
		return nextSteps{}
	}
	return nextSteps{RetryCommand: sessionrun.RetryCommand(rec),
		Unfinished: session.GroupUnfinished(rec.UnfinishedNodes()), FinishCommand: sessionrun.FinishCommand(rec)}
}

// print prints the next steps: the nodes left unfinished, where each group
// stands (its last power action and the power state last read) with the
// one command that finishes them, and the command that retries the failed
// nodes. Nothing when nothing is left.
func (n nextSteps) print(w io.Writer) error {
	if len(n.Unfinished) > 0 {
		lists := make([][]string, len(n.Unfinished))
		unfinished := 0
		for i, group := range n.Unfinished {
			lists[i] = group.Nodes
			unfinished += len(group.Nodes)
		}
		compressed := hostlist.CompressAll(lists)
		rows := make([][]string, len(n.Unfinished))
		for i, group := range n.Unfinished {
			rows[i] = []string{fmt.Sprint(len(group.Nodes)), compressed[i], string(group.Phase), string(group.Category),
				lastAction(group), orUnknown(string(group.PowerState))}
		}
		fmt.Fprintf(w, "\nunfinished: %s, where the session left them:\n", nodeCount(unfinished))
		if err := output.Table(w, []string{"nodes", "node list", "phase", "category", "last action", "power state (last read)"}, rows); err != nil {
			return err
		}
		if n.FinishCommand != "" {
			fmt.Fprintf(w, "\nfinish them with:\n  %s\n", n.FinishCommand)
		}
	}
	if n.RetryCommand != "" {
		fmt.Fprintf(w, "\nretry the failed nodes with:\n  %s\n", n.RetryCommand)
	}
	return nil
}

// lastAction is a group's last power action, and whether its BMC accepted
// it: one never confirmed may not have reached the BMC.
func lastAction(group session.UnfinishedGroup) string {
	switch {
	case group.Action == "":
		return "-"
	case group.ActionSent:
		return string(group.Action) + " (sent)"
	}
	return string(group.Action) + " (not confirmed sent)"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
