package session

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/exitcode"
)

// Statuses are the statuses a session can be listed in, in the order the
// command line names them.
var Statuses = []Status{StatusRunning, StatusComplete, StatusFailed, StatusInterrupted, StatusCancelled, StatusCorrupt}

// Categories are the categories of a phase in the order the status tree
// and every table show them.
func Categories() []engine.Category { return slices.Clone(categoryOrder) }

// PhaseCount is how many nodes of the session stand in each category of
// one phase, over all boot sets: one line of `bos session status`.
type PhaseCount struct {
	Phase  engine.Phase            `json:"phase"`
	Counts map[engine.Category]int `json:"counts"`
}

// PhaseCounts counts the status tree per phase, in the session's phase
// order.
func (r *Record) PhaseCounts() []PhaseCount {
	var out []PhaseCount
	for _, phase := range r.Phases {
		counts := map[engine.Category]int{}
		for _, bs := range r.BootSets {
			for _, ph := range bs.Phases {
				if ph.Name != phase {
					continue
				}
				for _, c := range ph.Categories {
					counts[c.Name] += len(c.NodeList)
				}
			}
		}
		out = append(out, PhaseCount{Phase: phase, Counts: counts})
	}
	return out
}

// NodeGroup is what some nodes met alike (a warning; a failure, in its
// phase) and those nodes, in plan order.
type NodeGroup struct {
	Phase engine.Phase // a failure's phase; "" for a warning
	Text  string
	Nodes []string
}

// WarningGroups groups the nodes' warnings by text, the most widespread
// first: the same cause on a thousand nodes is one line.
func (r *Record) WarningGroups() []NodeGroup {
	return groupNodes(r.Nodes, func(node string) []NodeGroup {
		warnings := r.NodeStates[node].Warnings
		met := make([]NodeGroup, len(warnings))
		for i, text := range warnings {
			met[i] = NodeGroup{Text: text}
		}
		return met
	})
}

// FailureGroups groups the failed nodes by the phase and reason they
// failed with, the most widespread first.
func (r *Record) FailureGroups(failed []string) []NodeGroup {
	return groupNodes(failed, func(node string) []NodeGroup {
		state := r.NodeStates[node]
		return []NodeGroup{{Phase: state.Phase, Text: state.Reason}}
	})
}

// groupNodes groups nodes by what met says each met, the most widespread
// first.
func groupNodes(nodes []string, met func(node string) []NodeGroup) []NodeGroup {
	type key struct {
		phase engine.Phase
		text  string
	}
	byKey := map[key]*NodeGroup{}
	var groups []*NodeGroup
	for _, node := range nodes {
		for _, m := range met(node) {
			group, ok := byKey[key{m.Phase, m.Text}]
			if !ok {
				group = &NodeGroup{Phase: m.Phase, Text: m.Text}
				byKey[key{m.Phase, m.Text}] = group
				groups = append(groups, group)
			}
			group.Nodes = append(group.Nodes, node)
		}
	}
	slices.SortStableFunc(groups, func(a, b *NodeGroup) int {
		return cmp.Or(cmp.Compare(len(b.Nodes), len(a.Nodes)), cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.Text, b.Text))
	})
	out := make([]NodeGroup, len(groups))
	for i, group := range groups {
		out[i] = *group
	}
	return out
}

// MinIDPrefix is how much of a session id is shown at least: what
// `bos session list` shows.
const MinIDPrefix = 8

// UniquePrefixLengths gives, per id, the length of its shortest prefix no
// other id shares (the prefix Get resolves to it alone), at least
// MinIDPrefix.
func UniquePrefixLengths(ids []string) map[string]int {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	lengths := make(map[string]int, len(sorted))
	for i, id := range sorted {
		n := MinIDPrefix
		// In sorted order the id sharing the longest prefix is a neighbour.
		for _, j := range []int{i - 1, i + 1} {
			if j >= 0 && j < len(sorted) {
				n = max(n, commonPrefix(id, sorted[j])+1)
			}
		}
		lengths[id] = n
	}
	return lengths
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// OutcomeError is a session that ended without success, with the exit
// code the CLI contract gives that end.
type OutcomeError struct {
	Code    exitcode.Code
	Message string
}

func (e *OutcomeError) Error() string           { return e.Message }
func (e *OutcomeError) ExitCode() exitcode.Code { return e.Code }

// Outcome is what the session's end means to the command that ran or
// watched it: nil when every node succeeded (or it still runs), exit 3
// when nodes failed, exit 130 when it was cancelled or interrupted.
func (r *Record) Outcome() error {
	switch r.Status {
	case StatusFailed:
		message := fmt.Sprintf("session %s: %d of %d nodes failed", r.ID, r.Summary.Failed, r.Summary.Total)
		if r.Summary.Pending > 0 {
			message += fmt.Sprintf(", %d left unfinished", r.Summary.Pending)
		}
		return &OutcomeError{Code: exitcode.NodesFailed, Message: message}
	case StatusCancelled, StatusInterrupted:
		message := fmt.Sprintf("session %s is %s", r.ID, r.Status)
		if r.Error != "" {
			message += ": " + r.Error
		}
		return &OutcomeError{Code: exitcode.Interrupted, Message: message}
	}
	return nil
}
