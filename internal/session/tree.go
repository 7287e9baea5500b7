package session

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/power"
)

// errorSampleSize bounds the node sample in each error_summary entry so a
// mass failure does not bloat the summary (the tree lists every node).
const errorSampleSize = 10

// placement is where a node sits within one phase.
type placement struct {
	category engine.Category
	reason   string
	// action is the last power action recorded in this phase, and sent
	// whether the BMC was recorded as having accepted it: a resume must
	// know both even after a later in_progress line without an action.
	action power.Action
	sent   bool
}

type phaseState struct {
	name   engine.Phase
	placed map[string]placement
}

type bootSetState struct {
	name   string
	nodes  []string // plan order, which every node list keeps
	phases []*phaseState
}

// tree is the live status tree. Nodes are kept in maps rather than in the
// category lists of the record so a transition costs O(1) with 10,000 nodes;
// the lists are built only when a snapshot is taken.
type tree struct {
	bootSets []*bootSetState
	byName   map[string]*bootSetState
	latest   map[string]NodeState
	// warnings are each node's distinct warnings, first seen first, over
	// all its transitions (a transition carries only the new ones).
	warnings map[string][]string
}

func newTree(plan engine.Plan, phases []engine.Phase) *tree {
	t := emptyTree(len(plan.BootSets))
	operation, _ := engine.LookupOperation(plan.Operation)
	for _, bsPlan := range plan.BootSets {
		bs := &bootSetState{name: bsPlan.Name, nodes: slices.Clone(bsPlan.Nodes)}
		for _, phase := range phases {
			// A boot set without a phase in this operation (a configure
			// phase after a boot, for one naming no configuration) does
			// not list it: its nodes finish with the phase before, not
			// pending forever.
			if operation.Skips(phase, bsPlan) {
				continue
			}
			bs.phases = append(bs.phases, bs.newPhase(phase))
		}
		t.bootSets = append(t.bootSets, bs)
		t.byName[bs.name] = bs
	}
	return t
}

// treeOf is the tree of rec with every node not started: its boot sets,
// their nodes and their phases, so that events can be replayed onto it
// without the process that ran it. The nodes are the stored plan's; a
// record written before bos stored plans has them gathered from its status
// tree's first phase, in rec.Nodes order.
func treeOf(rec *Record) *tree {
	plan, _ := rec.EnginePlan()
	planned := make(map[string][]string, len(plan.BootSets))
	for _, bs := range plan.BootSets {
		planned[bs.Name] = bs.Nodes
	}
	t := emptyTree(len(rec.BootSets))
	for _, status := range rec.BootSets {
		bs := &bootSetState{name: status.Name, nodes: planned[status.Name]}
		for _, phase := range status.Phases {
			bs.phases = append(bs.phases, bs.newPhase(phase.Name))
		}
		t.bootSets = append(t.bootSets, bs)
		t.byName[bs.name] = bs
	}
	return t
}

// nodesOfStatus are the nodes of one boot set of rec's status tree, in
// rec.Nodes order: how a record without a stored plan says which nodes a
// boot set has.
func nodesOfStatus(rec *Record, status BootSetStatus) []string {
	order := make(map[string]int, len(rec.Nodes))
	for i, node := range rec.Nodes {
		order[node] = i
	}
	var nodes []string
	if len(status.Phases) > 0 {
		for _, category := range status.Phases[0].Categories {
			nodes = append(nodes, category.NodeList...)
		}
	}
	slices.SortFunc(nodes, func(a, b string) int { return order[a] - order[b] })
	return nodes
}

// emptyTree is a tree to add bootSets boot sets to.
func emptyTree(bootSets int) *tree {
	return &tree{byName: make(map[string]*bootSetState, bootSets), latest: make(map[string]NodeState),
		warnings: make(map[string][]string)}
}

func (bs *bootSetState) newPhase(name engine.Phase) *phaseState {
	ps := &phaseState{name: name, placed: make(map[string]placement, len(bs.nodes))}
	for _, node := range bs.nodes {
		ps.placed[node] = placement{category: engine.NotStarted}
	}
	return ps
}

// phase returns the named phase, adding it in canonical order when the
// engine reports a phase the record did not plan (configure enabled late):
// refusing it would fail a session over bookkeeping.
func (bs *bootSetState) phase(name engine.Phase) (*phaseState, error) {
	rank, known := phaseOrder[name]
	if !known {
		return nil, fmt.Errorf("unknown phase %q", name)
	}
	at := len(bs.phases)
	for i, ps := range bs.phases {
		if ps.name == name {
			return ps, nil
		}
		if phaseOrder[ps.name] > rank && at == len(bs.phases) {
			at = i
		}
	}
	ps := bs.newPhase(name)
	bs.phases = slices.Insert(bs.phases, at, ps)
	return ps, nil
}

// apply moves one node. A node that fails or is excluded leaves the
// session's remaining phases: it is placed as excluded, reason "failed in
// <phase>" or "excluded in <phase>", in every later phase it had not
// started, so describe shows why it never got there (and the session does
// not count it pending there forever).
func (t *tree) apply(tr engine.Transition) error {
	bs, ps, err := t.place(&tr)
	if err != nil {
		return err
	}
	t.move(bs, ps, tr)
	return nil
}

// place finds where tr goes, or says why the session cannot place it.
// Unlike move, it only reads the tree (but for adding a phase the record
// did not plan): a Recorder checks transitions with it on the engine's
// node goroutines, whose stacks move's map writes would double.
func (t *tree) place(tr *engine.Transition) (*bootSetState, *phaseState, error) {
	bs := t.byName[tr.BootSet]
	if bs == nil {
		return nil, nil, fmt.Errorf("transition for node %s: boot set %q is not in the session", tr.Node, tr.BootSet)
	}
	if !slices.Contains(categoryOrder, tr.Category) {
		return nil, nil, fmt.Errorf("transition for node %s: unknown category %q", tr.Node, tr.Category)
	}
	ps, err := bs.phase(tr.Phase)
	if err != nil {
		return nil, nil, fmt.Errorf("transition for node %s: %w", tr.Node, err)
	}
	if _, planned := ps.placed[tr.Node]; !planned {
		return nil, nil, fmt.Errorf("transition for node %s: node is not in boot set %q", tr.Node, tr.BootSet)
	}
	return bs, ps, nil
}

// move applies tr, placed by place.
func (t *tree) move(bs *bootSetState, ps *phaseState, tr engine.Transition) {
	placed := placement{category: tr.Category, reason: tr.Reason, action: tr.Action, sent: tr.Sent}
	if tr.Action == "" && tr.Category == engine.InProgress {
		placed.action, placed.sent = ps.placed[tr.Node].action, ps.placed[tr.Node].sent
	}
	ps.placed[tr.Node] = placed
	if tr.Category == engine.Failed || tr.Category == engine.Excluded {
		later := bs.phases[slices.Index(bs.phases, ps)+1:]
		for _, next := range later {
			if next.placed[tr.Node].category == engine.NotStarted {
				next.placed[tr.Node] = placement{category: engine.Excluded, reason: fmt.Sprintf("%s in %s", tr.Category, tr.Phase)}
			}
		}
	}
	t.latest[tr.Node] = NodeState{
		BootSet: tr.BootSet, Phase: tr.Phase, Category: tr.Category,
		Action: placed.action, ActionSent: placed.sent, PowerState: cmp.Or(tr.PowerState, t.latest[tr.Node].PowerState),
		Reason: tr.Reason, Time: tr.Time,
	}
	for _, warning := range tr.Warnings {
		if !slices.Contains(t.warnings[tr.Node], warning) {
			t.warnings[tr.Node] = append(t.warnings[tr.Node], warning)
		}
	}
}

// phaseNames lists the phases any boot set has, in canonical order.
func (t *tree) phaseNames() []engine.Phase {
	var names []engine.Phase
	for _, bs := range t.bootSets {
		for _, ps := range bs.phases {
			if !slices.Contains(names, ps.name) {
				names = append(names, ps.name)
			}
		}
	}
	slices.SortFunc(names, func(a, b engine.Phase) int { return phaseOrder[a] - phaseOrder[b] })
	return names
}

// failureReason names a failure that came without one, so every failed
// node appears under some message in the errors maps.
func failureReason(p placement) string {
	if p.reason == "" {
		return "failed (no reason given)"
	}
	return p.reason
}

func (bs *bootSetState) status() BootSetStatus {
	out := BootSetStatus{Name: bs.name, Errors: map[string][]string{}}
	for _, ps := range bs.phases {
		lists := make(map[engine.Category][]string, len(categoryOrder))
		phaseErrors := map[string][]string{}
		for _, node := range bs.nodes {
			p := ps.placed[node]
			lists[p.category] = append(lists[p.category], node)
			if p.category == engine.Failed {
				phaseErrors[failureReason(p)] = append(phaseErrors[failureReason(p)], node)
			}
		}
		phase := PhaseStatus{Name: ps.name, Errors: phaseErrors}
		for _, category := range categoryOrder {
			phase.Categories = append(phase.Categories, CategoryStatus{Name: category, NodeList: nonNil(lists[category])})
		}
		out.Phases = append(out.Phases, phase)
	}
	for _, node := range bs.nodes {
		var reasons []string
		for _, ps := range bs.phases {
			if p := ps.placed[node]; p.category == engine.Failed && !slices.Contains(reasons, failureReason(p)) {
				reasons = append(reasons, failureReason(p))
			}
		}
		for _, reason := range reasons {
			out.Errors[reason] = append(out.Errors[reason], node)
		}
	}
	return out
}

// nonNil keeps empty node lists as [] in JSON, as BOS printed them.
func nonNil(nodes []string) []string {
	if nodes == nil {
		return []string{}
	}
	return nodes
}

// outcome ranks a node's overall result; a higher rank wins when a node
// appears in several boot sets.
type outcome int

const (
	outcomeExcluded outcome = iota
	outcomeSucceeded
	outcomePending
	outcomeFailed
)

func (bs *bootSetState) outcome(node string) outcome {
	result := outcomeExcluded
	for _, ps := range bs.phases {
		switch ps.placed[node].category {
		case engine.Failed:
			return outcomeFailed
		case engine.NotStarted, engine.InProgress:
			result = outcomePending
		case engine.Succeeded:
			result = max(result, outcomeSucceeded)
		}
	}
	return result
}

// fill writes the tree and everything derived from it into rec.
func (t *tree) fill(rec *Record, now time.Time) {
	rec.BootSets = make([]BootSetStatus, 0, len(t.bootSets))
	outcomes := make(map[string]outcome)
	failedBy := make(map[string][]string) // reason → distinct nodes, first-seen order
	seenFailure := make(map[[2]string]bool)
	for _, bs := range t.bootSets {
		status := bs.status()
		rec.BootSets = append(rec.BootSets, status)
		for _, node := range bs.nodes {
			if o, seen := outcomes[node]; !seen || bs.outcome(node) > o {
				outcomes[node] = bs.outcome(node)
			}
		}
		for reason, nodes := range status.Errors {
			for _, node := range nodes {
				if key := [2]string{reason, node}; !seenFailure[key] {
					seenFailure[key] = true
					failedBy[reason] = append(failedBy[reason], node)
				}
			}
		}
	}
	rec.Summary = summarize(outcomes, failedBy, rec.StartTime, rec.StopTime, now)
	rec.Summary.Warnings = len(t.warnings)
	rec.ErrorCount = rec.Summary.Failed
	rec.NodeStates = make(map[string]NodeState, len(t.latest))
	for node, state := range t.latest {
		state.Warnings = slices.Clone(t.warnings[node])
		rec.NodeStates[node] = state
	}
}

func summarize(outcomes map[string]outcome, failedBy map[string][]string, start time.Time, stop *time.Time, now time.Time) Summary {
	s := Summary{Total: len(outcomes), ErrorSummary: make(map[string]ErrorSummaryEntry, len(failedBy))}
	for _, o := range outcomes {
		switch o {
		case outcomeFailed:
			s.Failed++
		case outcomePending:
			s.Pending++
		case outcomeSucceeded:
			s.Succeeded++
		default:
			s.Excluded++
		}
	}
	if s.Total > 0 {
		s.PercentSuccessful = percent(s.Succeeded, s.Total)
		s.PercentFailed = percent(s.Failed, s.Total)
	}
	for reason, nodes := range failedBy {
		s.ErrorSummary[reason] = ErrorSummaryEntry{Count: len(nodes), Nodes: nodes[:min(len(nodes), errorSampleSize)]}
	}
	s.Timing = timingAt(start, stop, now)
	return s
}

// timingAt is the span of a session from start to stop, or to now while it
// runs.
func timingAt(start time.Time, stop *time.Time, now time.Time) Timing {
	end := now
	if stop != nil {
		end = *stop
	}
	return Timing{StartTime: start, EndTime: stop, Duration: end.Sub(start).Round(time.Millisecond).String()}
}

// percent rounds to two decimals, as BOS v2 reports.
func percent(part, total int) float64 {
	return math.Round(float64(part)*10000/float64(total)) / 100
}

// progress is where every node that has started stands, for the engine to
// resume from (engine.Plan.Resume); nodes that never started are absent.
func (t *tree) progress() map[string]engine.NodeProgress {
	out := make(map[string]engine.NodeProgress)
	for _, bs := range t.bootSets {
		for _, node := range bs.nodes {
			if p, started := bs.progress(node); started {
				out[node] = p
			}
		}
	}
	return out
}

func (bs *bootSetState) progress(node string) (engine.NodeProgress, bool) {
	var p engine.NodeProgress
	started := false
	for i, ps := range bs.phases {
		placed := ps.placed[node]
		switch placed.category {
		case engine.NotStarted:
			continue
		case engine.Failed, engine.Excluded:
			return engine.NodeProgress{Finished: true, Phase: ps.name}, true
		case engine.Succeeded:
			p = engine.NodeProgress{Phase: ps.name, Completed: true, Finished: i == len(bs.phases)-1}
		case engine.InProgress:
			p = engine.NodeProgress{Phase: ps.name, Action: placed.action, Sent: placed.sent}
		}
		started = true
	}
	return p, started
}

// unfinished lists, per node that has not finished, the transition that
// marks it stopped where it stands: its current (or next) phase, its
// category there, and reason.
func (t *tree) unfinished(reason string, now time.Time) []engine.Transition {
	var out []engine.Transition
	for _, bs := range t.bootSets {
		for _, node := range bs.nodes {
			if bs.outcome(node) != outcomePending {
				continue
			}
			for _, ps := range bs.phases {
				if c := ps.placed[node].category; c == engine.NotStarted || c == engine.InProgress {
					out = append(out, engine.Transition{Time: now, BootSet: bs.name, Node: node, Phase: ps.name, Category: c, Reason: reason})
					break
				}
			}
		}
	}
	return out
}
