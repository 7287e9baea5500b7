package engine

import (
	"context"
	"time"

	"github.com/bos-project/bos/internal/power"
)

// Resuming an interrupted session (Plan.Resume). Per node:
//
//   - absent from Plan.Resume: the node starts from its first phase;
//   - Finished: the node is not acted on; it counts as done for the
//     ordinal and lockstep gates and is left out of Result;
//   - Completed phase P: the node starts the phase after P (finished if P
//     was its last);
//   - in phase P with no Action: P starts afresh, as in a new session
//     (a boot reads the power state and excludes a node found On);
//   - in phase P with Action A, the power state is read first (a read
//     error fails the node, as at any phase start); then
//   - … if it is A's goal (Off for GracefulOff/ForceOff, On for PowerOn),
//     A landed: a shutdown succeeds, a boot goes on to the boot wait, and
//     no request is sent;
//   - … if it shows A under way (PoweringOff after an off action,
//     PoweringOn after PowerOn), or A is a GracefulOff confirmed Sent (the
//     OS may still be shutting down with the power On), no request is
//     sent: the state is polled for A's full timeout, and on timeout the
//     phase goes on as after a timed-out A (ForceOff after GracefulOff,
//     failure after ForceOff, the next of RetryPolicy attempts after
//     PowerOn);
//   - … otherwise A did not land, or never left: the step runs again,
//     sending A. An A not confirmed Sent may have died with the run before
//     its request went out: waiting out its timeout (300 s for a graceful
//     shutdown), then escalating, would act on what was never tried. A
//     confirmation precedes only polls, so it becomes durable with the
//     node's next action, not on its own (see Recorder): a run killed
//     while the node was polled leaves A unconfirmed, and a node still On
//     is sent A again, which a node already shutting down ignores.
//     Sessions recorded before confirmations existed hold intents only: a
//     graceful shutdown they sent goes once more to a node still On,
//     harmless to a node already shutting down;
//   - A boot whose On was recorded does not call BootPreparer again: the
//     On intent is recorded only after preparation succeeded.
//   - A node in the configure phase joins a batch again: configurations
//     are expected to be idempotent, as Ansible playbooks are.

// After folds one recorded transition of a node into its progress: replay
// a session's transitions in recorded order, per node, to fill
// Plan.Resume:
//
//	progress[t.Node] = progress[t.Node].After(t)
func (p NodeProgress) After(t Transition) NodeProgress {
	switch {
	case p.Finished:
		return p
	case t.Category == Failed || t.Category == Excluded:
		return NodeProgress{Finished: true, Phase: t.Phase}
	case t.Category == Succeeded:
		return NodeProgress{Phase: t.Phase, Completed: true}
	case t.Category != InProgress:
		return p
	}
	if t.Phase != p.Phase || p.Completed {
		p = NodeProgress{Phase: t.Phase}
	}
	if t.Action != "" {
		p.Action, p.Sent = t.Action, t.Sent
	}
	return p
}

// recordedAction is the power action an interrupted run last recorded in
// the phase a node resumes in, and whether it was confirmed sent.
type recordedAction struct {
	action power.Action
	sent   bool
}

// step runs one power step: send action (escalated to it because of why,
// if set) and wait for want within timeout, unless a resumed run recorded
// action and state (read at the phase's start) says it landed or may still
// be landing.
func (p *nodePhase) step(ctx context.Context, state power.State, action power.Action, want power.State, timeout time.Duration, why string) (bool, string, error) {
	resumed := p.resumedAction
	if resumed.action != action {
		return p.act(ctx, action, want, timeout, why)
	}
	p.resumedAction = recordedAction{}
	switch {
	case state == want:
		return true, "", nil
	case action.InEffect(state), resumed.sent && action == power.GracefulOff:
		// Sent by an earlier run at a time unknown: nothing to learn.
		return p.await(ctx, action, want, timeout, pollWait{})
	default:
		return p.act(ctx, action, want, timeout, why)
	}
}
