package boa

import (
	"context"
	"errors"
	"fmt"
)

// Engine runs sessions. BMC and Recorder must be safe for concurrent use:
// up to Options.MaxConcurrency nodes call them at once.
type Engine struct {
	BMC      BMC
	Recorder Recorder
	Clock    Clock   // nil means RealClock
	Options  Options // zero fields take DefaultOptions
	// Progress, if set, sees every transition once it is recorded. Calls
	// are serialized and hold up the calling node, so keep it quick.
	Progress func(Transition)
}

// Run takes every node of plan through the operation's phases and returns
// each node's outcome; a node's failure is in the Result, not the error.
// The error is for what ends the whole session: an invalid plan
// (ErrInvalidPlan), a Recorder failure, or ctx ending. In the last two
// cases Run stops every node promptly and the Result shows where each one
// was left (see Result.Unfinished).
func (e *Engine) Run(ctx context.Context, plan Plan) (Result, error) {
	if e.BMC == nil || e.Recorder == nil {
		return Result{}, errors.New("boa: engine needs a BMC and a Recorder")
	}
	options, err := e.Options.withDefaults()
	if err != nil {
		return Result{}, err
	}
	phases, err := operationPhases(plan.Operation)
	if err != nil {
		return Result{}, err
	}
	lockstep, err := lockstepPace(plan.Pace)
	if err != nil {
		return Result{}, err
	}
	s, err := newScheduler(plan.BootSets, phases, lockstep)
	if err != nil {
		return Result{}, err
	}
	clock := e.Clock
	if clock == nil {
		clock = RealClock()
	}
	r := &runner{bmc: e.BMC, recorder: e.Recorder, clock: clock, options: options, progress: e.Progress}
	if err := s.run(ctx, options.MaxConcurrency, r); err != nil {
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
