package session

import (
	"slices"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/power"
)

// FailedNodes lists the nodes whose latest state is failed, in rec.Nodes
// order.
func (rec *Record) FailedNodes() []string {
	var failed []string
	for _, node := range rec.Nodes {
		if st, ok := rec.NodeStates[node]; ok && st.Category == engine.Failed {
			failed = append(failed, node)
		}
	}
	return failed
}

// UnfinishedNode is a node a session left mid-operation (cancelled,
// interrupted, or stopped by an error): neither succeeded through its
// last phase, nor failed, nor excluded.
type UnfinishedNode struct {
	Node    string
	BootSet string
	// Phase is the phase the node was in, or was to start next, and
	// Category where it stood there: in_progress or not_started.
	Phase    engine.Phase
	Category engine.Category
	// Action is the last power action recorded for the node in Phase, if
	// any, and ActionSent whether its BMC accepted it.
	Action     power.Action
	ActionSent bool
	// PowerState is its power state as last read; "" when never read.
	PowerState power.State
}

// UnfinishedNodes lists the nodes rec left unfinished, in rec.Nodes order:
// those the summary counts pending.
func (rec *Record) UnfinishedNodes() []UnfinishedNode {
	failed := map[string]bool{}
	unfinished := map[string]UnfinishedNode{}
	for _, bs := range rec.BootSets {
		for _, phase := range bs.Phases {
			for _, category := range phase.Categories {
				for _, node := range category.NodeList {
					switch category.Name {
					case engine.Failed:
						failed[node] = true
					case engine.NotStarted, engine.InProgress:
						if _, earlier := unfinished[node]; !earlier {
							unfinished[node] = UnfinishedNode{Node: node, BootSet: bs.Name, Phase: phase.Name, Category: category.Name}
						}
					}
				}
			}
		}
	}
	var out []UnfinishedNode
	for _, node := range rec.Nodes {
		left, ok := unfinished[node]
		if !ok || failed[node] {
			continue
		}
		st := rec.NodeStates[node]
		left.PowerState = st.PowerState
		if st.Phase == left.Phase {
			left.Action, left.ActionSent = st.Action, st.ActionSent
		}
		out = append(out, left)
	}
	return out
}

// UnfinishedGroup is the unfinished nodes left at the same point, in
// rec.Nodes order: at scale, a handful of lines instead of thousands.
type UnfinishedGroup struct {
	Phase      engine.Phase    `json:"phase"`
	Category   engine.Category `json:"category"`
	Action     power.Action    `json:"last_action,omitempty"`
	ActionSent bool            `json:"action_sent,omitempty"`
	// PowerState is the power state last read; absent when never read.
	PowerState power.State `json:"power_state,omitempty"`
	Nodes      []string    `json:"nodes"`
}

// GroupUnfinished groups nodes that stand at the same point, the largest
// group first (then in the order the first node of each came).
func GroupUnfinished(nodes []UnfinishedNode) []UnfinishedGroup {
	type point struct {
		phase      engine.Phase
		category   engine.Category
		action     power.Action
		sent       bool
		powerState power.State
	}
	index := map[point]int{}
	var groups []UnfinishedGroup
	for _, n := range nodes {
		at := point{n.Phase, n.Category, n.Action, n.ActionSent, n.PowerState}
		i, ok := index[at]
		if !ok {
			i = len(groups)
			index[at] = i
			groups = append(groups, UnfinishedGroup{Phase: n.Phase, Category: n.Category, Action: n.Action,
				ActionSent: n.ActionSent, PowerState: n.PowerState})
		}
		groups[i].Nodes = append(groups[i].Nodes, n.Node)
	}
	slices.SortStableFunc(groups, func(a, b UnfinishedGroup) int { return len(b.Nodes) - len(a.Nodes) })
	return groups
}
