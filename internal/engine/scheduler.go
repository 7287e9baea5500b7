package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bos-project/bos/internal/power"
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
// A boot set may have no phase i (configure without a configuration): its
// nodes finish with phase i-1 and count as done with phase i.
// So in a reboot with independent pace the shutdown groups run in
// shutdown-ordinal order, and a node boots as soon as its own shutdown has
// succeeded and its boot-ordinal group has its turn, even while later
// shutdown groups are still running. Nothing ever waits on a later phase,
// so this cannot deadlock.
//
// One goroutine (dispatch) owns all of this state. A node allowed to start
// a phase gets a goroutine of its own for that phase at once, so every node
// moves on its own timeline and a long wait (boot_wait is 20 minutes) holds
// up no other node. What bounds the load on the BMCs is not the number of
// nodes in a phase but bmcSlots: Options.MaxConcurrency BMC calls in
// flight, each slot held only for one call. A node waiting for its ordinal
// or lockstep turn is a small struct in a queue here, not a goroutine; a
// node in a phase costs a goroutine parked in a timer between polls (a
// few KB of stack: tens of MB at 10,000 nodes), which is what lets all of
// them wait at once instead of in waves of MaxConcurrency. A batched phase
// (configure) has no per-node goroutine: nodes allowed to start it join
// their boot set's open batch, and each batch runs in a goroutine of its
// own.
type scheduler struct {
	runner     *runner
	phases     []phaseSpec
	lockstep   bool
	nodes      []node
	bootSets   []bootSetState
	groups     [][]ordinalGroup  // per phase, by ascending ordinal
	current    []int             // per phase: the group whose turn it is
	ready      []task            // may start now
	open       []*configureBatch // batches still taking nodes, oldest first
	full       []*configureBatch // batches ready to run
	unfinished int               // nodes not yet through their last phase
}

type node struct {
	name     string
	bootSet  int
	phase    int // index of the phase the node is in or will start next
	category Category
	reason   string
	// resumed: the node starts phase in the middle, as Plan.Resume said,
	// having recorded resumedAction.
	resumed       bool
	resumedAction recordedAction
	// finishedBefore: an interrupted run finished the node; it is not part
	// of this run's Result.
	finishedBefore bool
	// preflighted: preflight passed in this run; a reboot runs it (and
	// prepares the boot) in its shutdown phase, for the boot phase after it.
	preflighted bool
	// lastProgress is the node's boot progress as its phase before last
	// read it, if progressRead: the boot phase after a shutdown starts
	// from it rather than reading it again.
	lastProgress power.BootProgress
	progressRead bool
}

type bootSetState struct {
	name          string
	configuration string
	skips         []bool    // per phase: the boot set does not have it
	group         []int     // per phase: index of this boot set's ordinal group
	pending       []int     // per phase: nodes not yet done with it
	waiting       [][]*node // per phase: nodes ready for it but not yet allowed
	open          *configureBatch
	closed        int // nodes in batches that are queued or running
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
	// preflighted, lastProgress and progressRead are passed on to the
	// node's next phase.
	preflighted  bool
	lastProgress power.BootProgress
	progressRead bool
	err          error // the phase was abandoned; the node stays as it was
}

func newScheduler(r *runner, plans []BootSetPlan, phases []phaseSpec, lockstep bool, resume map[string]NodeProgress) (*scheduler, error) {
	s := &scheduler{runner: r, phases: phases, lockstep: lockstep, current: make([]int, len(phases))}
	if err := s.addNodes(plans); err != nil {
		return nil, err
	}
	s.unfinished = len(s.nodes)
	kept := slices.DeleteFunc(slices.Clone(plans), func(b BootSetPlan) bool { return len(b.Nodes) == 0 })
	for i, spec := range phases {
		s.groups = append(s.groups, s.groupByOrdinal(i, kept, spec.ordinal))
	}
	starts := make([]int, len(s.nodes))
	for i := range s.nodes {
		n := &s.nodes[i]
		start, err := s.startPhase(n, resume)
		if err != nil {
			return nil, err
		}
		starts[i] = start
		if start < len(phases) {
			n.phase = start
			bs := &s.bootSets[n.bootSet]
			bs.waiting[start] = append(bs.waiting[start], n)
		}
	}
	// Only once every node waits where it starts: what an interrupted run
	// finished counts as done.
	for i := range s.nodes {
		n := &s.nodes[i]
		if starts[i] == len(phases) {
			n.finishedBefore = true
			s.unfinished--
		}
		for phase := range starts[i] {
			s.markDone(n.bootSet, phase)
		}
	}
	for phase := range phases {
		for b := range s.bootSets {
			s.release(phase, b)
		}
	}
	return s, nil
}

// startPhase is the index of the phase node starts with, len(s.phases) if
// an interrupted run finished it (the rules are in resume.go).
func (s *scheduler) startPhase(n *node, resume map[string]NodeProgress) (int, error) {
	progress, resumed := resume[n.name]
	switch {
	case !resumed:
		return s.nextPhase(n.bootSet, -1), nil
	case progress.Finished:
		return len(s.phases), nil
	}
	bs := &s.bootSets[n.bootSet]
	phase := slices.IndexFunc(s.phases, func(spec phaseSpec) bool { return spec.phase == progress.Phase })
	if phase < 0 || bs.skips[phase] {
		return 0, fmt.Errorf("%w: node %q resumes in phase %q, which boot set %q does not have in this operation", ErrInvalidPlan, n.name, progress.Phase, bs.name)
	}
	if progress.Completed {
		return s.nextPhase(n.bootSet, phase), nil
	}
	n.resumed, n.resumedAction = true, recordedAction{action: progress.Action, sent: progress.Sent}
	return phase, nil
}

// nextPhase is the index of boot set b's first phase after phase, or
// len(s.phases) if there is none.
func (s *scheduler) nextPhase(b, phase int) int {
	next := phase + 1
	for next < len(s.phases) && s.bootSets[b].skips[next] {
		next++
	}
	return next
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
		skips := make([]bool, len(s.phases))
		for i, spec := range s.phases {
			skips[i] = spec.skips != nil && spec.skips(b)
		}
		s.bootSets = append(s.bootSets, bootSetState{
			name:          b.Name,
			configuration: b.Configuration,
			skips:         skips,
			group:         make([]int, len(s.phases)),
			pending:       slices.Repeat([]int{len(b.Nodes)}, len(s.phases)),
			waiting:       make([][]*node, len(s.phases)),
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
		if s.phases[phase].batched {
			s.joinBatch(task{node: n, phase: phase})
		} else {
			s.ready = append(s.ready, task{node: n, phase: phase})
		}
	}
	bs.waiting[phase] = nil
}

// joinBatch adds t to its boot set's open batch, opening one if needed;
// a batch that is full is ready to run.
func (s *scheduler) joinBatch(t task) {
	bs := &s.bootSets[t.node.bootSet]
	if bs.open == nil {
		size := s.runner.options.ConfigureBatchSize
		bs.open = &configureBatch{
			bootSet: t.node.bootSet,
			tasks:   make([]task, 0, min(size, bs.pending[t.phase])),
			due:     s.runner.clock.After(s.runner.options.ConfigureBatchWait),
		}
		s.open = append(s.open, bs.open)
	}
	bs.open.tasks = append(bs.open.tasks, t)
	if len(bs.open.tasks) == s.runner.options.ConfigureBatchSize {
		s.closeBatch(bs.open)
	}
}

// closeBatch stops batch taking nodes and queues it to run.
func (s *scheduler) closeBatch(batch *configureBatch) {
	s.open = slices.DeleteFunc(s.open, func(b *configureBatch) bool { return b == batch })
	bs := &s.bootSets[batch.bootSet]
	bs.open = nil
	bs.closed += len(batch.tasks)
	s.full = append(s.full, batch)
}

// closeCompleteBatches closes the open batches that no other node can
// join: every node of the boot set not done with the phase is in the batch
// or in a closed one.
func (s *scheduler) closeCompleteBatches() {
	for _, batch := range slices.Clone(s.open) {
		bs := &s.bootSets[batch.bootSet]
		if bs.pending[batch.tasks[0].phase] == len(batch.tasks)+bs.closed {
			s.closeBatch(batch)
		}
	}
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
	n, b := o.node, o.node.bootSet
	if s.phases[o.phase].batched {
		s.bootSets[b].closed--
	}
	if o.err != nil {
		return
	}
	n.category, n.reason, n.preflighted = o.category, o.reason, o.preflighted
	n.lastProgress, n.progressRead = o.lastProgress, o.progressRead
	n.resumed, n.resumedAction = false, recordedAction{}
	next := len(s.phases)
	if o.category == Succeeded {
		next = s.nextPhase(b, o.phase)
	}
	if next < len(s.phases) {
		n.phase, n.category = next, NotStarted
		// Queue the node before marking it done, so a release triggered by
		// markDone includes it.
		s.bootSets[b].waiting[next] = append(s.bootSets[b].waiting[next], n)
		s.release(next, b)
	} else {
		s.unfinished--
	}
	for phase := o.phase; phase < next; phase++ {
		s.markDone(b, phase)
	}
}

// run drives every node through every phase with a goroutine per node
// phase in progress and per running configure batch, all of which have
// exited when it returns.
func (s *scheduler) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outcomes := make(chan outcome)
	var started sync.WaitGroup
	err := s.dispatch(ctx, outcomes, &started)
	cancel()
	go func() {
		started.Wait()
		close(outcomes)
	}()
	// Phases that completed while we were stopping still count.
	for o := range outcomes {
		s.finish(o)
	}
	return err
}

// dispatch starts node phases and batches until every node is through;
// busy counts the nodes whose outcome is awaited. Every goroutine it starts
// is tracked by started.
func (s *scheduler) dispatch(ctx context.Context, outcomes chan outcome, started *sync.WaitGroup) error {
	busy := 0
	for s.unfinished > 0 {
		// select picks among ready cases at random: check first so that no
		// node starts once the session is over.
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, t := range s.ready {
			t.node.category = InProgress
			// Not started.Go: its wrapper would be a second allocation per
			// node phase.
			started.Add(1)
			go func() {
				defer started.Done()
				outcomes <- s.execute(ctx, t)
			}()
		}
		busy += len(s.ready)
		s.ready = s.ready[:0]
		s.closeCompleteBatches()
		for _, batch := range s.full {
			busy += s.startBatch(ctx, batch, outcomes, started)
		}
		s.full = s.full[:0]
		if busy == 0 && len(s.open) == 0 {
			return errors.New("engine: internal error: nodes remain but none may start")
		}
		var batchDue <-chan time.Time
		if len(s.open) > 0 {
			batchDue = s.open[0].due
		}
		select {
		case o := <-outcomes:
			busy--
			if o.err != nil {
				return o.err
			}
			s.finish(o)
		case <-batchDue:
			s.closeBatch(s.open[0])
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// startBatch runs batch in a goroutine tracked by batches and returns how
// many outcomes it will send.
func (s *scheduler) startBatch(ctx context.Context, batch *configureBatch, outcomes chan<- outcome, batches *sync.WaitGroup) int {
	for _, t := range batch.tasks {
		t.node.category = InProgress
	}
	bs := &s.bootSets[batch.bootSet]
	batches.Go(func() {
		s.runner.runConfigureBatch(ctx, bs.name, bs.configuration, batch.tasks, outcomes)
	})
	return len(batch.tasks)
}

// execute runs one node phase in the node's own goroutine. It reads only
// what dispatch never changes while the task is out.
func (s *scheduler) execute(ctx context.Context, t task) outcome {
	spec := s.phases[t.phase]
	p := &nodePhase{
		runner:        s.runner,
		bootSet:       s.bootSets[t.node.bootSet].name,
		node:          t.node.name,
		phase:         spec.phase,
		afterShutdown: !t.node.resumed && t.phase > 0 && s.phases[t.phase-1].phase == PhaseShutdown,
		resumedAction: t.node.resumedAction,
		preflighted:   t.node.preflighted,
		lastProgress:  t.node.lastProgress,
		progressRead:  t.node.progressRead,
	}
	category, reason, err := p.runPhase(ctx, spec.run)
	return outcome{task: t, category: category, reason: reason, preflighted: p.preflighted,
		lastProgress: p.lastProgress, progressRead: p.progressRead, err: err}
}

func (s *scheduler) result() Result {
	nodes := make(map[string]NodeResult, len(s.nodes))
	for _, n := range s.nodes {
		if n.finishedBefore {
			continue
		}
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
