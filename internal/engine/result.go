package engine

import (
	"cmp"
	"slices"
)

// NodeResult is where one node stands when Run returns.
type NodeResult struct {
	Node    string
	BootSet string
	// Phase is the phase the node failed or was excluded in, the last phase
	// if it succeeded, or the phase it was in (or about to start) when the
	// session was cancelled or aborted.
	Phase    Phase
	Category Category
	Reason   string
}

// Result is every node's outcome, keyed by node name.
type Result struct {
	Nodes map[string]NodeResult
}

// Failed lists the failed nodes, by boot set then node name.
func (r Result) Failed() []NodeResult {
	return r.matching(func(n NodeResult) bool { return n.Category == Failed })
}

// Unfinished lists the nodes a cancelled or aborted session left not
// started or in progress, by boot set then node name: the caller marks
// them cancelled.
func (r Result) Unfinished() []NodeResult {
	return r.matching(func(n NodeResult) bool { return n.Category == NotStarted || n.Category == InProgress })
}

// Counts is the number of nodes per final category.
func (r Result) Counts() map[Category]int {
	counts := make(map[Category]int)
	for _, n := range r.Nodes {
		counts[n.Category]++
	}
	return counts
}

func (r Result) matching(keep func(NodeResult) bool) []NodeResult {
	var nodes []NodeResult
	for _, n := range r.Nodes {
		if keep(n) {
			nodes = append(nodes, n)
		}
	}
	slices.SortFunc(nodes, func(a, b NodeResult) int {
		return cmp.Or(cmp.Compare(a.BootSet, b.BootSet), cmp.Compare(a.Node, b.Node))
	})
	return nodes
}
