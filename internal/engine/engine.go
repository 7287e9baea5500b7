package engine

import (
	"context"
	"errors"
	"fmt"
)

// Engine runs sessions. BMC, Recorder, Boot and Configure must be safe for
// concurrent use. Run makes at most Options.MaxConcurrency calls to BMC
// (and its BootProgress) and Boot at once, all together; Recorder and
// Progress may be called by every node in a phase at once, and Configure
// by every running configure batch. Each must return promptly once its
// ctx ends: Run waits for every call it made before it returns.
type Engine struct {
	BMC      BMC
	Recorder Recorder
	// Boot, if set, prepares each node's boot (artifacts, one-time
	// override) once per run, before the node's first power action (in a
	// reboot, before its shutdown); its warnings are recorded with the
	// node's next transition, its error fails the node with no power
	// action. If it is also a BootFinisher, what it changed is undone once
	// the node's boot is over, or its shutdown failed.
	Boot BootPreparer
	// Configure runs the configure phase; without it, nodes of a boot set
	// naming a configuration fail in that phase, saying so.
	Configure Configurer
	Clock     Clock   // nil means RealClock
	Options   Options // zero fields take DefaultOptions
	// Progress, if set, sees every transition once it is recorded, on a
	// goroutine of its own, one at a time and in the order they were
	// recorded; every call has returned when Run does.
	Progress func(Transition)
	// Log, if set, receives what failure reasons leave out: the whole text
	// of each error a node's reason was made from, naming the node, its
	// BMC and what it sent. A reason names the cause alone (see package
	// reason), so that nodes failed by one cause group. It may be called
	// by every node at once.
	Log func(format string, args ...any)
}

// Run takes every node of plan through the operation's phases and returns
// each node's outcome; a node's failure is in the Result, not the error.
// With plan.Resume it carries on an interrupted session (rules in
// resume.go); nodes that run finished are not in the Result.
//
// Each operation's phases are in its row of the operation table
// (operations.go). Configure after a boot runs only for boot sets naming a
// Configuration; the configure operation checks no power state (the
// configuration reports unreachable nodes) and excludes the nodes of boot
// sets naming none.
// The error is for what ends the whole session: an invalid plan
// (ErrInvalidPlan), a Recorder failure, or ctx ending. In the last two
// cases Run stops every node promptly and the Result shows where each one
// was left (see Result.Unfinished).
func (e *Engine) Run(ctx context.Context, plan Plan) (Result, error) {
	if e.BMC == nil || e.Recorder == nil {
		return Result{}, errors.New("engine: needs a BMC and a Recorder")
	}
	options, err := e.Options.withDefaults()
	if err != nil {
		return Result{}, err
	}
	operation, phases, err := operationPhases(plan.Operation)
	if err != nil {
		return Result{}, err
	}
	lockstep, err := lockstepPace(plan.Pace)
	if err != nil {
		return Result{}, err
	}
	clock := e.Clock
	if clock == nil {
		clock = RealClock()
	}
	r := &runner{
		sessionID: plan.SessionID, operation: operation,
		recorder: e.Recorder, configurer: e.Configure, log: e.Log,
		clock: clock, options: options, progress: newProgressQueue(e.Progress),
		powerOns: newStagger(clock, options.BatchSize, options.BatchInterval),
		settle:   newSettleTimes(),
	}
	slots := newBMCSlots(options.MaxConcurrency)
	defer r.progress.close()
	r.boundBMCCalls(e.BMC, e.Boot, slots)
	s, err := newScheduler(r, plan.BootSets, phases, lockstep, plan.Resume)
	if err != nil {
		return Result{}, err
	}
	if err := s.run(ctx); err != nil {
		return s.result(), fmt.Errorf("session %s: %w", plan.SessionID, err)
	}
	return s.result(), nil
}

func lockstepPace(pace Pace) (bool, error) {
	switch pace {
	case Independent, "":
		return false, nil
	case Lockstep:
		return true, nil
	default:
		return false, fmt.Errorf("%w: unknown pace %q (want independent or lockstep)", ErrInvalidPlan, pace)
	}
}
