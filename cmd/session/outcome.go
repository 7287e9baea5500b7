package session

import (
	"fmt"
	"io"

	"github.com/bos-project/bos/internal/hostlist"
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
	// id is the session's, for the short retry command; scattered says
	// the failed nodes' hostlist is too long for the retry command line to
	// fit a screen.
	id        string
	scattered bool
}

func nextStepsOf(rec *session.Record) nextSteps {
	if rec.Status == session.StatusRunning {
		return nextSteps{}
	}
	n := nextSteps{id: rec.ID, RetryCommand: sessionrun.RetryCommand(rec),
		Unfinished: session.GroupUnfinished(rec.UnfinishedNodes()), FinishCommand: sessionrun.FinishCommand(rec)}
	n.scattered = n.RetryCommand != "" && len(hostlist.Compress(rec.FailedNodes())) > maxLimit
	return n
}

// maxLimit is the longest --limit of a retry command line the default
// tables print whole: beyond it the failed nodes are scattered over the
// fleet, and the command would fill the screen.
const maxLimit = 80

// print prints the next steps: the nodes left unfinished, where each group
// stands (its last power action and the power state last read) with the
// one command that finishes them, and the command that retries the failed
// nodes. Nothing when nothing is left. Without lists the groups show no
// node list, and a retry command line whose --limit lists scattered nodes
// gives way to 'bos session retry ID', which runs the same.
func (n nextSteps) print(w io.Writer, lists bool) error {
	if len(n.Unfinished) > 0 {
		groups := make([]session.NodeGroup, len(n.Unfinished))
		unfinished := 0
		for i, group := range n.Unfinished {
			groups[i] = session.NodeGroup{Nodes: group.Nodes, Text: orUnknown(string(group.PowerState))}
			unfinished += len(group.Nodes)
		}
		fmt.Fprintf(w, "\nunfinished: %s, where the session left them:\n", nodeCount(unfinished))
		err := printGroups(w, groups, lists, []string{"phase", "category", "last action"}, func(i int) []string {
			group := n.Unfinished[i]
			return []string{string(group.Phase), string(group.Category), lastAction(group)}
		}, "power state (last read)")
		if err != nil {
			return err
		}
		if n.FinishCommand != "" {
			fmt.Fprintf(w, "\nfinish them with:\n  %s\n", n.FinishCommand)
		}
	}
	switch {
	case n.RetryCommand == "":
	case lists || !n.scattered:
		fmt.Fprintf(w, "\nretry the failed nodes with:\n  %s\n", n.RetryCommand)
	default:
		fmt.Fprintf(w, "\nretry the failed nodes with:\n  bos session retry %s\n"+
			"(as one create command line: retry_command in -o json, or -o wide)\n", n.id)
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
