package boa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// The scheduler decides when each node may start each phase. The rule, for
// phase i of a node in boot set b:
//
//   - the node succeeded phase i-1 (a node that fails or is excluded leaves
//     the session: it is done with every later phase without running it);
//   - ordinals: every node of every boot set whose ordinal for phase i is
//     lower than b's is done with phase i (boot sets with equal ordinals
//     form one group and run together);
//   - lockstep pace only: every node of b is done with phase i-1.
//
// So in a reboot with independent pace the shutdown groups run in
// shutdown-ordinal order, and a node boots as soon as its own shutdown has
// succeeded and its boot-ordinal group has its turn, even while later
// shutdown groups are still running. Nothing ever waits on a later phase,
// so this cannot deadlock.
//
// One goroutine (dispatch) owns all of this state; a fixed pool of at most
// MaxConcurrency workers runs node phases, so 10,000 nodes cost 10,000
// small structs, not 10,000 goroutines.
type scheduler struct {
	phases     []phaseSpec
	lockstep   bool
	nodes      []node
	bootSets   []bootSetState
	groups     [][]ordinalGroup // per phase, by ascending ordinal
	current    []int            // per phase: the group whose turn it is
	ready      []task           // may start now, waiting for a worker
	unfinished int              // nodes not yet through their last phase
}

type node struct {
	name     string
	bootSet  int
	phase    int // index of the phase the node is in or will start next
	category Category
	reason   string
}

type bootSetState struct {
	name    string
	group   []int     // per phase: index of this boot set's ordinal group
	pending []int     // per phase: nodes not yet done with it
	waiting [][]*node // per phase: nodes ready for it but not yet allowed
}

type ordinalGroup struct {
	pending  int   // nodes not yet done with the phase
	bootSets []int // indexes into scheduler.bootSets
}

type task struct {
	node  *node
	phase int
}

type outcome struct {
	task
	category Category
	reason   string
	err      error // the phase was abandoned; the node stays as it was
}

func newScheduler(plans []BootSetPlan, phases []phaseSpec, lockstep bool) (*scheduler, error) {
	s := &scheduler{phases: phases, lockstep: lockstep, current: make([]int, len(phases))}
	if err := s.addNodes(plans); err != nil {
		return nil, err
	}
	s.unfinished = len(s.nodes)
	kept := slices.DeleteFunc(slices.Clone(plans), func(b BootSetPlan) bool { return len(b.Nodes) == 0 })
	for i, spec := range phases {
		s.groups = append(s.groups, s.groupByOrdinal(i, kept, spec.ordinal))
	}
	for i := range s.nodes {
		n := &s.nodes[i]
		bs := &s.bootSets[n.bootSet]
		bs.waiting[0] = append(bs.waiting[0], n)
	}
	for b := range s.bootSets {
		s.release(0, b)
	}
	return s, nil
}

// addNodes checks names and builds the node and boot set tables, skipping
// boot sets with no nodes.
func (s *scheduler) addNodes(plans []BootSetPlan) error {
	nodeCount := 0
	for _, b := range plans {
		nodeCount += len(b.Nodes)
	}
	s.nodes = make([]node, 0, nodeCount)
	bootSetOf := make(map[string]string, nodeCount)
	seenBootSets := make(map[string]bool, len(plans))
	for _, b := range plans {
		if b.Name == "" || seenBootSets[b.Name] {
			return fmt.Errorf("%w: boot set name %q is empty or used twice; give each boot set a unique name", ErrInvalidPlan, b.Name)
		}
		seenBootSets[b.Name] = true
		if len(b.Nodes) == 0 {
			continue
		}
		for _, name := range b.Nodes {
			if name == "" {
				return fmt.Errorf("%w: boot set %q has an empty node name", ErrInvalidPlan, b.Name)
			}
			if other, dup := bootSetOf[name]; dup {
				return fmt.Errorf("%w: node %q is in boot set %q and again in boot set %q; a node may appear once per session", ErrInvalidPlan, name, other, b.Name)
			}
			bootSetOf[name] = b.Name
			s.nodes = append(s.nodes, node{name: name, bootSet: len(s.bootSets), category: NotStarted})
		}
		s.bootSets = append(s.bootSets, bootSetState{
			name:    b.Name,
			group:   make([]int, len(s.phases)),
			pending: slices.Repeat([]int{len(b.Nodes)}, len(s.phases)),
			waiting: make([][]*node, len(s.phases)),
		})
	}
	return nil
}

// groupByOrdinal groups the (non-empty) boot sets by their ordinal for
// phase, ascending. Boot set indexes follow plan order, as addNodes built
// them.
func (s *scheduler) groupByOrdinal(phase int, plans []BootSetPlan, ordinal func(BootSetPlan) int) []ordinalGroup {
	ordinals := make([]int, 0, len(plans))
	for _, b := range plans {
		ordinals = append(ordinals, ordinal(b))
	}
	slices.Sort(ordinals)
	ordinals = slices.Compact(ordinals)
	groups := make([]ordinalGroup, len(ordinals))
	for b, plan := range plans {
		g, _ := slices.BinarySearch(ordinals, ordinal(plan))
		s.bootSets[b].group[phase] = g
		groups[g].pending += len(plan.Nodes)
		groups[g].bootSets = append(groups[g].bootSets, b)
	}
	return groups
}

// release moves boot set b's nodes waiting for phase into the ready queue if
// the rule above allows it.
func (s *scheduler) release(phase, b int) {
	bs := &s.bootSets[b]
	if len(bs.waiting[phase]) == 0 || bs.group[phase] != s.current[phase] {
		return
	}
	if s.lockstep && phase > 0 && bs.pending[phase-1] > 0 {
		return
	}
	for _, n := range bs.waiting[phase] {
		s.ready = append(s.ready, task{node: n, phase: phase})
	}
	bs.waiting[phase] = nil
}

// markDone records that one node of boot set b is done with phase, and
// releases whoever was waiting for that.
func (s *scheduler) markDone(b, phase int) {
	bs := &s.bootSets[b]
	bs.pending[phase]--
	if s.lockstep && bs.pending[phase] == 0 && phase+1 < len(s.phases) {
		s.release(phase+1, b)
	}
	groups := s.groups[phase]
	groups[bs.group[phase]].pending--
	for s.current[phase] < len(groups) && groups[s.current[phase]].pending == 0 {
		s.current[phase]++
		if s.current[phase] < len(groups) {
			for _, next := range groups[s.current[phase]].bootSets {
				s.release(phase, next)
			}
		}
	}
}

// finish applies the outcome of a node phase.
func (s *scheduler) finish(o outcome) {
	if o.err != nil {
		return
	}
	n, b := o.node, o.node.bootSet
	n.category, n.reason = o.category, o.reason
	if o.category == Succeeded && o.phase+1 < len(s.phases) {
		n.phase, n.category = o.phase+1, NotStarted
		// Queue the node before marking it done, so a release triggered by
		// markDone includes it.
		s.bootSets[b].waiting[n.phase] = append(s.bootSets[b].waiting[n.phase], n)
		s.release(n.phase, b)
		s.markDone(b, o.phase)
		return
	}
	s.unfinished--
	for phase := o.phase; phase < len(s.phases); phase++ {
		s.markDone(b, phase)
	}
}

// run drives every node through every phase with a pool of at most
// maxWorkers goroutines, all of which have exited when it returns.
func (s *scheduler) run(ctx context.Context, maxWorkers int, r *runner) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tasks := make(chan task)
	outcomes := make(chan outcome)
	var workers sync.WaitGroup
	for range min(maxWorkers, len(s.nodes)) {
		workers.Go(func() {
			for t := range tasks {
				outcomes <- s.execute(ctx, r, t)
			}
		})
	}
	err := s.dispatch(ctx, tasks, outcomes)
	cancel()
	close(tasks)
	go func() {
		workers.Wait()
		close(outcomes)
	}()
	// Phases that completed while we were stopping still count.
	for o := range outcomes {
		s.finish(o)
	}
	return err
}

func (s *scheduler) dispatch(ctx context.Context, tasks chan<- task, outcomes <-chan outcome) error {
	busy := 0
	for s.unfinished > 0 {
		// select picks among ready cases at random: check first so that no
		// node starts once the session is over.
		if err := ctx.Err(); err != nil {
			return err
		}
		var send chan<- task
		var next task
		if len(s.ready) > 0 {
			send, next = tasks, s.ready[0]
		} else if busy == 0 {
			return errors.New("boa: internal error: nodes remain but none may start")
		}
		select {
		case send <- next:
			s.ready = s.ready[1:]
			next.node.category = InProgress
			busy++
		case o := <-outcomes:
			busy--
			if o.err != nil {
				return o.err
			}
			s.finish(o)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// execute runs one node phase on a worker. It reads only what dispatch
// never changes while the task is out.
func (s *scheduler) execute(ctx context.Context, r *runner, t task) outcome {
	spec := s.phases[t.phase]
	p := &nodePhase{
		runner:        r,
		bootSet:       s.bootSets[t.node.bootSet].name,
		node:          t.node.name,
		phase:         spec.phase,
		afterShutdown: t.phase > 0 && s.phases[t.phase-1].phase == PhaseShutdown,
	}
	category, reason, err := p.runPhase(ctx, spec.run)
	return outcome{task: t, category: category, reason: reason, err: err}
}

func (s *scheduler) result() Result {
	nodes := make(map[string]NodeResult, len(s.nodes))
	for _, n := range s.nodes {
		nodes[n.name] = NodeResult{
			Node:     n.name,
			BootSet:  s.bootSets[n.bootSet].name,
			Phase:    s.phases[n.phase].phase,
			Category: n.category,
			Reason:   n.reason,
		}
	}
	return Result{Nodes: nodes}
}
