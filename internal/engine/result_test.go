package engine

import (
	"cmp"
	"slices"
)

// Ways for the tests to read a Result.

// Failed lists the failed nodes, by boot set then node name.
func (r Result) Failed() []NodeResult {
	return r.matching(func(n NodeResult) bool { return n.Category == Failed })
}

// Unfinished lists the nodes a cancelled or aborted session left not
// started or in progress, by boot set then node name.
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
