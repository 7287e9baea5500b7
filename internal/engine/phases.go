package engine

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
)

// BootProgressReader is an optional BMC capability: Redfish BootProgress
// (LastState and, where the BMC reports it, LastStateTime) of a node's
// system. Implementations return an empty LastState with no error when the
// BMC does not report boot progress, so that power On alone then counts as
// booted.
type BootProgressReader interface {
	BootProgress(ctx context.Context, node string) (power.BootProgress, error)
}

const (
	// osRunning is the BootProgress.LastState of a node whose OS is up.
	osRunning = "OSRunning"
	// noProgress is the BootProgress.LastState of a BMC that has none to
	// report.
	noProgress = "None"
)

// NoBootProgress is the warning (or, with Options.RequireBootProgress, the
// failure reason) of a node whose BMC reported no boot progress since its
// power-on within Options.BootProgressGrace.
const NoBootProgress = "boot not confirmed: BMC reports no boot progress"

// phaseSpec is one phase as the scheduler runs it: which ordinal orders it
// and what it does to a node, alone (run) or in batches (batched).
type phaseSpec struct {
	phase   Phase
	ordinal func(BootSetPlan) int
	run     func(p *nodePhase, ctx context.Context) (Category, string, error)
	// batched phases are run by the scheduler in batches per boot set
	// (runConfigureBatch) instead of node by node.
	batched bool
	// skips says a boot set has no such phase in this operation: its nodes
	// finish with the phase before (OperationSpec.Skips).
	skips func(BootSetPlan) bool
}

// phaseWork is the work of each phase; the operation table
// (operations.go) says which phases an operation runs.
var phaseWork = map[Phase]phaseSpec{
	PhaseShutdown: {
		phase:   PhaseShutdown,
		ordinal: func(b BootSetPlan) int { return b.ShutdownOrdinal },
		run:     (*nodePhase).shutdown,
	},
	PhaseBoot: {
		phase:   PhaseBoot,
		ordinal: func(b BootSetPlan) int { return b.BootOrdinal },
		run:     (*nodePhase).boot,
	},
	// A boot set without a configuration has its nodes excluded, saying
	// why, where the operation gives every boot set the phase.
	PhaseConfigure: {
		phase:   PhaseConfigure,
		ordinal: func(b BootSetPlan) int { return b.BootOrdinal },
		batched: true,
	},
}

// operationPhases are the phases op runs, as the scheduler runs them.
func operationPhases(op Operation) (OperationSpec, []phaseSpec, error) {
	spec, ok := LookupOperation(op)
	if !ok {
		return OperationSpec{}, nil, fmt.Errorf("%w: unknown operation %q (want one of %s)", ErrInvalidPlan, op, strings.Join(OperationNames(), ", "))
	}
	phases := make([]phaseSpec, len(spec.Phases))
	for i, phase := range spec.Phases {
		work, ok := phaseWork[phase]
		if !ok {
			return OperationSpec{}, nil, fmt.Errorf("%w: operation %s: phase %q has no work", ErrInvalidPlan, op, phase)
		}
		work.skips = func(b BootSetPlan) bool { return spec.Skips(phase, b) }
		phases[i] = work
	}
	return spec, phases, nil
}

// runner holds what every node phase shares within one Run.
type runner struct {
	sessionID string
	operation OperationSpec
	// bmc, resetChecker, bootProgress, preparer and finisher talk to BMCs:
	// each of their calls holds one of the session's bmcSlots (see
	// boundBMCCalls).
	bmc          BMC
	resetChecker ResetChecker       // nil: reset types are found out by trying them
	bootProgress BootProgressReader // nil: the BMC does not report boot progress
	systemReader SystemReader       // nil: power state and boot progress are read apart
	watcher      Watcher            // nil: nodes are polled
	// explained holds the watcher's reasons to poll already logged.
	explained  sync.Map
	preparer   BootPreparer // nil: the boot phase only switches power
	finisher   BootFinisher // nil: nothing to undo after a boot
	recorder   Recorder
	configurer Configurer // nil: a configuration named fails its nodes
	clock      Clock
	options    Options
	powerOns   *stagger // nil: power-on is not staggered
	settle     *settleTimes
	progress   *progressQueue // nil: no Progress
	// log is Engine.Log; nil: none.
	log func(format string, args ...any)
}

// boundBMCCalls sets the runner's BMC-facing dependencies to bmc and
// preparer (nil: none) with every call taking one of slots.
func (r *runner) boundBMCCalls(bmc BMC, preparer BootPreparer, slots *bmcSlots) {
	r.bmc = boundedBMC{bmc: bmc, slots: slots}
	if checker, ok := bmc.(ResetChecker); ok {
		r.resetChecker = boundedResetChecker{checker: checker, slots: slots}
	}
	if reader, ok := bmc.(BootProgressReader); ok {
		r.bootProgress = boundedBootProgress{reader: reader, slots: slots}
	}
	if reader, ok := bmc.(SystemReader); ok {
		r.systemReader = boundedSystemReader{reader: reader, slots: slots}
	}
	if watcher, ok := bmc.(Watcher); ok {
		r.watcher = watcher
	}
	if preparer != nil {
		r.preparer = boundedPreparer{preparer: preparer, slots: slots}
	}
	if finisher, ok := preparer.(BootFinisher); ok {
		r.finisher = boundedFinisher{finisher: finisher, slots: slots}
	}
}

// nodePhase is one node going through one phase.
type nodePhase struct {
	*runner
	bootSet, node string
	phase         Phase
	// afterShutdown: this node's shutdown just succeeded in this run, so
	// its power state is known to be Off.
	afterShutdown bool
	// resumedAction is the power action an interrupted run recorded in
	// this phase: the phase starts by finding out whether it landed (see
	// resume.go).
	resumedAction recordedAction
	// warnings wait for the node's next transition, which records them.
	warnings []string
	// preflighted: preflight passed for this node in this run.
	preflighted bool
	// lastState is the node's power state as last read in this phase.
	lastState power.State
	// lastProgress is the node's boot progress as the read that gave
	// lastState found it, when progressRead (see SystemReader); it may
	// come from the phase before, where that read the node last.
	lastProgress power.BootProgress
	progressRead bool
	// poweredOnAt is when the BMC accepted this phase's power-on; boot
	// times are learned from it.
	poweredOnAt time.Time
	// noGraceful says why the node's BMC offers no graceful shutdown, as
	// preflight found out; "" if it offers one or does not say.
	noGraceful string
	// sentFrom is the power state in which the BMC last accepted a reset
	// in this phase; unchangedReads counts the reads since that showed it
	// still, and changed says one showed another state (or none could be
	// read). Unknown is neither: it means "not yet".
	sentFrom       power.State
	unchangedReads int
	changed        bool
}

// runPhase takes a node through a phase from in_progress to its final
// category. A non-nil error means the phase was abandoned (cancellation or a
// Recorder failure) and the node is left as it was.
func (p *nodePhase) runPhase(ctx context.Context, run func(*nodePhase, context.Context) (Category, string, error)) (Category, string, error) {
	if err := p.record(ctx, InProgress, "", ""); err != nil {
		return InProgress, "", err
	}
	category, reason, err := run(p, ctx)
	if err != nil {
		return InProgress, "", err
	}
	return category, reason, p.record(ctx, category, "", reason)
}

func (p *nodePhase) record(ctx context.Context, category Category, action power.Action, reason string) error {
	return p.commit(ctx, Transition{Category: category, Action: action, Reason: reason})
}

// recordSent confirms that the BMC accepted action, recorded before as
// intended, as resetType.
func (p *nodePhase) recordSent(ctx context.Context, action power.Action, resetType string) error {
	return p.commit(ctx, Transition{Category: InProgress, Action: action, Sent: true, ResetType: resetType})
}

// commit records t, a transition of this node phase; it fills in what
// every transition of the phase carries, and the warnings met since the
// last one. t becomes durable by the node's next action (see beforeAction).
func (p *nodePhase) commit(ctx context.Context, t Transition) error {
	t.Time, t.BootSet, t.Node, t.Phase, t.Warnings = p.clock.Now(), p.bootSet, p.node, p.phase, p.warnings
	t.PowerState = p.lastState
	if err := p.recorder.Record(ctx, t); err != nil {
		return fmt.Errorf("node %s: record %s %s: %w", p.node, p.phase, t.Category, err)
	}
	p.warnings = nil
	p.progress.add(t)
	return nil
}

// beforeAction makes every transition of the node durable; it comes
// before each action on the node (a reset, a boot override, a
// configuration) and only there, so that a transition followed by reads
// alone costs no fsync of its own, while a node is never acted on beyond
// its durable record, which a resume goes by.
func (p *nodePhase) beforeAction(ctx context.Context) error {
	if err := p.recorder.Sync(ctx, p.node); err != nil {
		return fmt.Errorf("node %s: record %s: %w", p.node, p.phase, err)
	}
	return nil
}

// warn keeps warnings for the node's next transition.
func (p *nodePhase) warn(warnings ...string) {
	p.warnings = append(p.warnings, warnings...)
}

func (p *nodePhase) shutdown(ctx context.Context) (Category, string, error) {
	category, reason, err := p.powerOff(ctx)
	if category == Failed && p.preflighted && p.operation.Boots {
		// The boot prepared before the shutdown will not come: a one-time
		// override left behind would surprise the node's next reboot.
		p.finishBoot(ctx)
	}
	return category, reason, err
}

// powerOff is the shutdown phase's work: a reboot's preflight, then
// graceful-off, escalated to force-off.
func (p *nodePhase) powerOff(ctx context.Context) (Category, string, error) {
	state, err := p.readPower(ctx)
	if err != nil {
		return p.failRead(ctx, err)
	}
	// A reboot checks a node already off too: its boot comes next.
	if state != power.Off || p.operation.Boots {
		if reason, err := p.preflight(ctx, state != power.Off); err != nil || reason != "" {
			return Failed, reason, err
		}
	}
	if state == power.Off {
		return Succeeded, "", nil
	}
	// escalation is why the node needs a forced power-off.
	var escalation string
	if p.resumedAction.action != power.ForceOff {
		escalation = p.noGraceful
		if escalation == "" {
			off, reason, err := p.step(ctx, state, power.GracefulOff, power.Off, p.options.GracefulShutdownTimeout, "")
			if err != nil || off {
				return Succeeded, "", err
			}
			escalation = reason
		}
	}
	var forcing string
	if escalation != "" {
		forcing = escalation + ": forcing off"
	}
	off, reason, err := p.step(ctx, state, power.ForceOff, power.Off, p.options.ForcefulShutdownTimeout, forcing)
	if err != nil || off {
		return Succeeded, "", err
	}
	if escalation != "" {
		reason = escalation + "; then " + reason
	}
	return Failed, "did not power off: " + reason, nil
}

func (p *nodePhase) boot(ctx context.Context) (Category, string, error) {
	resumedOn := p.resumedAction.action == power.PowerOn
	state := power.Off
	p.lastState = state // unless read below: the shutdown just reached it
	if !p.afterShutdown {
		var err error
		if state, err = p.readPower(ctx); err != nil {
			return p.failRead(ctx, err)
		}
		if !resumedOn && (state == power.On || state == power.PoweringOn) {
			return Excluded, "already on (use reboot)", nil
		}
	}
	// An On was recorded only after preflight passed.
	if !resumedOn {
		if reason, err := p.preflight(ctx, false); err != nil || reason != "" {
			return Failed, reason, err
		}
		defer p.finishBoot(ctx)
	}
	before := p.readBootProgress(ctx, resumedOn)
	on, reason, err := p.powerOn(ctx, state)
	if err != nil || !on {
		return Failed, reason, err
	}
	return p.waitBooted(ctx, before)
}

// prepareBoot points the node at its boot artifacts, once per boot phase
// (not per power-on attempt). It returns why the node fails, if it does;
// its error means ctx ended.
func (p *nodePhase) prepareBoot(ctx context.Context) (string, error) {
	if p.preparer == nil {
		return "", nil
	}
	if err := p.beforeAction(ctx); err != nil {
		return "", err
	}
	warnings, err := p.preparer.PrepareBoot(ctx, p.sessionID, p.bootSet, p.node)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return p.because("prepare boot", err), nil
	}
	p.warn(warnings...)
	return "", nil
}

// finishBoot undoes what prepareBoot changed on the BMC, once the boot
// phase is over, unless the session is stopping: the node may then still
// be booting from what was prepared.
func (p *nodePhase) finishBoot(ctx context.Context) {
	if p.finisher == nil || ctx.Err() != nil {
		return
	}
	if p.beforeAction(ctx) != nil {
		return // the record failed or the session is stopping: the node's next transition says so
	}
	p.warn(p.finisher.FinishBoot(ctx, p.bootSet, p.node)...)
}

// powerOn runs the On step up to RetryPolicy times. Before a retry it
// checks whether the previous attempt got there late, so that a slow node is
// not sent a second On (which many BMCs refuse while powering on). state
// is the node's power state before the first attempt.
func (p *nodePhase) powerOn(ctx context.Context, state power.State) (bool, string, error) {
	var reason string
	for attempt := 1; attempt <= p.options.RetryPolicy; attempt++ {
		if attempt > 1 {
			if err := p.sleep(ctx, p.options.PollInterval); err != nil {
				return false, "", err
			}
			if state, err := p.readPower(ctx); err == nil && state == power.On {
				return true, "", nil
			}
		}
		on, attemptReason, err := p.step(ctx, state, power.PowerOn, power.On, p.options.PowerOnWait, "")
		if err != nil || on {
			return on, "", err
		}
		reason = attemptReason
	}
	return false, fmt.Sprintf("did not power on after %d attempts: last: %s", p.options.RetryPolicy, reason), nil
}

// readBootProgress reads the node's boot progress before its power-on:
// what waitBooted compares later readings with, to tell one this power-on
// caused from a stale one. Comparing the BMC's own readings (its clock's
// LastStateTime, or its LastState) rather than bos's clock leaves BMC clock
// skew out of it. Where there is nothing to compare with (a resumed On
// that may have landed already, or a failed read) it is the zero
// BootProgress, against which every reading is new.
func (p *nodePhase) readBootProgress(ctx context.Context, resumedOn bool) power.BootProgress {
	if p.bootProgress == nil || resumedOn {
		return power.BootProgress{}
	}
	if p.progressRead {
		return p.lastProgress
	}
	before, err := p.bootProgress.BootProgress(ctx, p.node)
	if err != nil {
		return power.BootProgress{}
	}
	return before
}

// waitBooted waits, within BootWait, until the BMC reports the OS running
// since the power-on: an OSRunning newer than before, the BootProgress
// read just before the On. A BMC that reports no boot progress at all
// needs no wait: power On is all it can tell. One whose boot progress has
// not moved since before, or reads "None", once BootProgressGrace has
// passed is not waited for any longer: the node succeeds with
// NoBootProgress as a warning, or fails with it if RequireBootProgress.
// One that moved is waited for up to BootWait.
func (p *nodePhase) waitBooted(ctx context.Context, before power.BootProgress) (Category, string, error) {
	if p.bootProgress == nil {
		return Succeeded, "", nil
	}
	graceEnd := p.clock.Now().Add(min(p.options.BootProgressGrace, p.options.BootWait))
	unconfirmed := false
	judge := func(now power.BootProgress) (bool, string) {
		moved := now.Since(before)
		switch {
		case now.LastState == "" || now.LastState == osRunning && moved:
			return true, ""
		case (!moved || now.LastState == noProgress) && !p.clock.Now().Before(graceEnd):
			unconfirmed = true
			return true, ""
		}
		return false, now.LastState
	}
	wait := pollWait{learn: p.settleKey("boot"), since: p.poweredOnAt}
	// The read that saw the node On may have seen it booted too.
	var booted bool
	var reason string
	var err error
	if p.progressRead && p.lastState == power.On {
		booted, reason = judge(p.lastProgress)
	}
	if booted {
		p.settle.observe(wait.learn, 0, p.clock.Now().Sub(cmp.Or(wait.since, p.clock.Now())))
	} else {
		booted, reason, err = p.pollUntil(ctx, "boot progress", osRunning, p.options.BootWait, wait, func(ctx context.Context) (bool, string, error) {
			now, err := p.bootProgress.BootProgress(ctx, p.node)
			if err != nil {
				return false, "", err
			}
			done, observed := judge(now)
			return done, observed, nil
		})
	}
	switch {
	case err != nil:
		return InProgress, "", err
	case !booted:
		return Failed, "not booted: " + reason, nil
	case unconfirmed && p.options.RequireBootProgress:
		return Failed, NoBootProgress, nil
	case unconfirmed:
		p.warn(NoBootProgress)
	}
	return Succeeded, "", nil
}

// act records the intent to send action, sends it, records that the BMC
// accepted it, and polls until the node reaches want within timeout. It
// reports whether want was reached and, if not, why; its error means the
// phase is abandoned. why, if set, is recorded with the intent: why the
// engine escalated to action.
// A node busy changing its power state is first waited for (see
// settleFirst), and a power-on first waits for its slot in the stagger.
func (p *nodePhase) act(ctx context.Context, action power.Action, want power.State, timeout time.Duration, why string) (bool, string, error) {
	if reached, err := p.settleFirst(ctx, action, want, timeout); err != nil || reached {
		return reached, "", err
	}
	if action == power.PowerOn {
		if err := p.powerOns.wait(ctx); err != nil {
			return false, "", err
		}
	}
	if err := p.commit(ctx, Transition{Category: InProgress, Action: action, Reason: why}); err != nil {
		return false, "", err
	}
	if err := p.beforeAction(ctx); err != nil {
		return false, "", err
	}
	// A change reported before the action is not its outcome.
	drain(p.changes())
	resetType, err := p.bmc.Reset(ctx, p.node, action)
	if err != nil {
		if ctx.Err() != nil {
			return false, "", ctx.Err()
		}
		return false, p.because(string(action), err), nil
	}
	// Only polls come before the node's next action: the confirmation
	// becomes durable with that action's intent.
	if err := p.recordSent(ctx, action, resetType); err != nil {
		return false, "", err
	}
	p.sentFrom, p.unchangedReads, p.changed = p.lastState, 0, false
	wait := pollWait{learn: p.settleKey(string(action)), since: p.clock.Now()}
	if action == power.PowerOn {
		p.poweredOnAt = wait.since
		if p.bootProgress != nil && p.systemReader != nil {
			wait.then = p.settleKey("boot")
		}
	}
	reached, reason, err := p.await(ctx, action, want, timeout, wait)
	if !reached && err == nil && p.unchangedReads > 0 && !p.changed {
		// Accepted, and nothing at all came of it: say so plainly, as the
		// reason to escalate.
		reason = fmt.Sprintf("%s (%s) accepted but power stayed %s for %s",
			actionNames[action], resetType, p.sentFrom, seconds(timeout))
	}
	return reached, reason, err
}

// actionNames are the power actions as the escalation reasons name them.
var actionNames = map[power.Action]string{
	power.GracefulOff: "graceful shutdown",
	power.ForceOff:    "forced power-off",
	power.PowerOn:     "power-on",
}

// seconds renders d the way timeouts are configured: 300s, 0.05s.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// settleFirst waits, before action is sent, for a node last read
// PoweringOn or PoweringOff to finish that change, for up to timeout: a
// BMC busy with a transition refuses a reset (409) or, worse, accepts it
// and does nothing (HPE Cray EX), which would then cost the step its whole
// timeout for nothing. It reports whether the node settled at want, which
// makes action needless. A node still busy at the end gets action anyway:
// the BMC's answer and the polls after it tell what came of it.
func (p *nodePhase) settleFirst(ctx context.Context, action power.Action, want power.State, timeout time.Duration) (bool, error) {
	busy := p.lastState
	if busy != power.PoweringOn && busy != power.PoweringOff {
		return false, nil
	}
	why := fmt.Sprintf("%s: waiting up to %s for it to settle before %s", busy, seconds(timeout), action)
	if err := p.record(ctx, InProgress, "", why); err != nil {
		return false, err
	}
	settled, _, err := p.pollUntil(ctx, "power state", "On or Off", timeout, pollWait{}, func(ctx context.Context) (bool, string, error) {
		state, err := p.readPower(ctx)
		return state.Settled(), string(state), err
	})
	return settled && p.lastState == want, err
}

// settleKey is what the node waits for after sending action: its goal on
// the node's boot set (see settleTimes).
func (p *nodePhase) settleKey(action string) settleKey {
	return settleKey{bootSet: p.bootSet, goal: action}
}

// await polls until the node reaches want, the goal of action, within
// timeout; wait says what the wait teaches and takes from its peers' (the
// zero pollWait: nothing).
func (p *nodePhase) await(ctx context.Context, action power.Action, want power.State, timeout time.Duration, wait pollWait) (bool, string, error) {
	reached, reason, err := p.pollUntil(ctx, "power state", string(want), timeout, wait, func(ctx context.Context) (bool, string, error) {
		state, err := p.readPower(ctx)
		return state == want, string(state), err
	})
	if reason != "" {
		reason = fmt.Sprintf("%s: %s", action, reason)
	}
	return reached, reason, err
}

// pollWait is what a wait learns from and teaches its peers (see
// settleTimes).
type pollWait struct {
	learn settleKey // the zero key: nothing
	// since is when what is waited for began (the action it follows),
	// which learning counts from; zero: when the wait starts.
	since time.Time
	// then, when set, is a goal reached later from the same start, which
	// a read of the wait's goal also tells (a power-on's boot): where it
	// is known, the first read waits for it too, and answers both.
	then settleKey
}

// pollUntil calls check with back-off until it reports done or timeout has
// passed, checking once more at the deadline; check reports what it read of
// subject, whose goal is want. A check error is transient until the
// deadline, then it is the reason. Its error means ctx ended.
// When and how often it polls also follows what the node's peers taught
// about the goal learn names (see settleTimes): the back-off restarts from
// PollBase at the first poll they make worthwhile.
// The reason's text is built only on timeout: a poll that goes as expected
// allocates nothing here, and a node polls many times per reboot.
func (p *nodePhase) pollUntil(ctx context.Context, subject, want string, timeout time.Duration, wait pollWait, check func(context.Context) (done bool, observed string, err error)) (bool, string, error) {
	start := p.clock.Now()
	deadline := start.Add(timeout)
	since := cmp.Or(wait.since, start)
	var lastObserved string
	var lastErr error
	read := false // a check returned without error at least once
	var stillShort time.Duration
	plan := p.settle.plan(wait.learn)
	firstPoll := p.firstPoll(start, since, plan, wait.then)
	catchUp := false
	for attempt := 0; ; attempt++ {
		now := p.clock.Now()
		remaining := deadline.Sub(now)
		if remaining <= 0 {
			last := lastRead(subject, read, lastObserved)
			if lastErr != nil {
				last = p.because("last read error", lastErr)
			}
			return false, fmt.Sprintf("%s %s not reached within %s (%s)", subject, want, timeout, last), nil
		}
		delay := p.options.pollDelay(attempt)
		woken := plan.reached
		changes := p.changes()
		switch {
		case changes != nil && catchUp:
			// Woken by a scout: the node's own change comes about now;
			// if its report came before it was forgotten, a read later
			// sees it.
			delay, woken, catchUp = p.options.PollInterval, changes, false
		case changes != nil && !plan.follower:
			// The BMC reports each change: one read per change, and a
			// read now and then in case a report went missing.
			delay, woken = watchedIntervals*p.options.PollInterval, changes
		case changes != nil:
			// Its changes on the way (PoweringOff, PoweringOn) are the
			// scouts' to read: a follower waits for one to get there.
			delay = watchedIntervals * p.options.PollInterval
		case plan.follower:
			delay = followerIntervals * p.options.PollInterval
		case attempt == 0:
			delay = max(firstPoll.Sub(now), 0)
		}
		wokenUp, err := p.sleepUnless(ctx, min(delay, remaining), woken)
		if err != nil {
			return false, "", err
		}
		switch {
		case wokenUp && woken == plan.reached:
			// A scout got there: poll from when it did.
			plan = p.settle.plan(wait.learn)
			firstPoll = p.firstPoll(start, since, plan, wait.then)
			attempt = -1
			// What it was told before (PoweringOff) is a step on the way.
			drain(changes)
			catchUp = changes != nil
			continue
		case wokenUp && p.early(since, wait):
			// A change this early (PoweringOff, PoweringOn) is a step on
			// the way, as the peers showed: the change that matters
			// comes with an event of its own.
			attempt--
			continue
		}
		// The read sees every change reported so far.
		drain(changes)
		sent := p.clock.Now()
		done, observed, err := check(ctx)
		switch {
		case ctx.Err() != nil:
			return false, "", ctx.Err()
		case err != nil:
			lastErr = err
		case done:
			p.settle.observe(wait.learn, stillShort, p.clock.Now().Sub(since))
			return true, "", nil
		default:
			read, lastObserved, lastErr = true, observed, nil
			stillShort = sent.Sub(since)
		}
	}
}

// drain forgets the changes reported so far, if any: a stale report
// would cost a read that can only tell what one after it did.
func drain(changes <-chan struct{}) {
	if changes == nil {
		return
	}
	select {
	case <-changes:
	default:
	}
}

// early says whether it is too soon after since for the node to have
// reached the goal of wait: before half the time its peers took.
func (p *nodePhase) early(since time.Time, wait pollWait) bool {
	settled, known := p.settle.known(wait.learn)
	if !known {
		return false
	}
	if later, known := p.settle.known(wait.then); known {
		settled = max(settled, later)
	}
	return p.clock.Now().Before(since.Add(settled / 2))
}

// firstPoll is when a wait that started at start, for what began at
// since, first reads: no earlier than its peers were seen to get there
// (plan), nor than they got to then, where the read tells both.
func (p *nodePhase) firstPoll(start, since time.Time, plan pollPlan, then settleKey) time.Time {
	first := start.Add(p.options.pollDelay(0))
	if !plan.known {
		return first
	}
	settled := plan.settled
	if later, known := p.settle.known(then); known {
		settled = max(settled, later)
	}
	return maxTime(first, since.Add(settled))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// changes is the channel that receives when the node's BMC reports a
// change of it, nil when the node is polled; a BMC's reason to be polled
// is logged once.
func (p *nodePhase) changes() <-chan struct{} {
	if p.watcher == nil {
		return nil
	}
	changes, why := p.watcher.Watch(p.node)
	if why != "" && p.log != nil {
		if _, logged := p.explained.LoadOrStore(why, true); !logged {
			p.log("%s", why)
		}
	}
	return changes
}

// lastRead says what the last poll of subject read, if it read anything.
func lastRead(subject string, read bool, observed string) string {
	if read {
		return "last " + subject + " " + observed
	}
	return "nothing read"
}

// readPower reads the node's power state and notes it (see lastState and
// sentFrom).
func (p *nodePhase) readPower(ctx context.Context) (power.State, error) {
	var state power.State
	var err error
	if p.systemReader != nil {
		var progress power.BootProgress
		if state, progress, err = p.systemReader.ReadSystem(ctx, p.node); err == nil {
			p.lastProgress, p.progressRead = progress, true
		}
	} else {
		state, err = p.bmc.PowerState(ctx, p.node)
	}
	switch {
	case err != nil:
		p.changed = true
		return state, err
	case state == power.Unknown:
	case state == p.sentFrom:
		p.unchangedReads++
	default:
		p.changed = true
	}
	p.lastState = state
	return state, nil
}

func (p *nodePhase) sleep(ctx context.Context, d time.Duration) error {
	_, err := p.sleepUnless(ctx, d, nil)
	return err
}

// sleepUnless sleeps for d unless woken is closed first (true) or ctx ends
// (its error). A nil woken never wakes.
func (p *nodePhase) sleepUnless(ctx context.Context, d time.Duration, woken <-chan struct{}) (bool, error) {
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-woken:
		return true, nil
	case <-p.clock.After(d):
		return false, nil
	}
}

// failRead fails the node on an unreadable initial power state (the driver
// has already retried at the HTTP level), unless the read ended because ctx
// did.
func (p *nodePhase) failRead(ctx context.Context, err error) (Category, string, error) {
	if ctx.Err() != nil {
		return InProgress, "", ctx.Err()
	}
	return Failed, p.because("read power state", err), nil
}

// because is the reason a node fails from err, met while doing what: what
// and err's cause (see package reason), which names neither the node nor
// its BMC, so that nodes failed alike group. The whole error, which does,
// goes to the log.
func (p *nodePhase) because(what string, err error) string {
	cause := reason.Of(err)
	if full := err.Error(); full != cause && p.log != nil {
		p.log("%s %s %s: %s: %s", p.node, p.bootSet, p.phase, what, full)
	}
	return what + ": " + cause
}
