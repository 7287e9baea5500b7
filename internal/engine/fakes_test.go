package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
)

// Tests run inside synctest bubbles, where time.Now and time.After are
// virtual: the fakes script behaviour in (virtual) seconds, the engine uses
// RealClock and the real default timeouts, and nothing really sleeps.

// never is a delay for a change that never happens.
const never = -1

// nodeScript is how one fake node behaves.
type nodeScript struct {
	initial       power.State
	gracefulDelay time.Duration // Off this long after GracefulOff; never: ignores it
	forceDelay    time.Duration // Off this long after ForceOff; never: stuck on
	onDelay       time.Duration // On this long after On; never: does not power on
	onErrors      int           // the first onErrors On requests fail with a 409
	pollErrors    int           // reads fail this many times while a change is pending
	brokenReads   bool          // every read fails
	hang          bool          // every request blocks until its context ends
	bootDelay     time.Duration // OSRunning this long after On (BootProgress only); never: stays booting
	progress      progressQuirk // how its BMC reports boot progress
	// becoming is a change already under way when the run starts (as a
	// resumed run finds it): the node reaches becoming becomingDelay later.
	becoming      power.State
	becomingDelay time.Duration
	// busyIgnoresReset: a Reset while a change is under way is accepted
	// and does nothing (as HPE Cray EX BMCs do).
	busyIgnoresReset bool
	// noReset: the BMC offers no reset type for these actions; Reset
	// refuses them without sending anything.
	noReset []power.Action
}

type fakeNode struct {
	nodeScript
	state    power.State
	target   power.State // pending change, if any
	targetAt time.Time
	onAt     time.Time
}

// event is one thing that happened, in one global order: a Reset reaching
// the fake BMC, a transition reaching the fake Recorder, a PrepareBoot, a
// FinishBoot or a Configure call.
type event struct {
	seq        int
	at         time.Time
	reset      bool // a Reset; otherwise a recorded Transition unless prepare, finish or configure
	prepare    bool
	finish     bool
	configure  *ConfigureRequest
	node       string
	action     power.Action
	transition Transition
	// durable: a transition the Recorder has since been asked to Sync.
	durable bool
	// notDurable counts, on an action (a Reset, PrepareBoot, FinishBoot
	// or Configure), the transitions of its nodes not durable by then.
	notDurable int
}

// acts says whether e acted on a node, and on which ones.
func (e event) acts() []string {
	switch {
	case e.configure != nil:
		return e.configure.Nodes
	case e.reset || e.prepare || e.finish:
		return []string{e.node}
	}
	return nil
}

type eventLog struct {
	mu     sync.Mutex
	events []event
}

func (l *eventLog) add(e event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.seq = len(l.events)
	e.at = time.Now()
	for _, node := range e.acts() {
		for _, earlier := range l.events {
			if earlier.acts() == nil && earlier.node == node && !earlier.durable {
				e.notDurable++
			}
		}
	}
	l.events = append(l.events, e)
}

// sync marks every transition of node logged so far durable.
func (l *eventLog) sync(node string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.events {
		if e.acts() == nil && e.node == node {
			l.events[i].durable = true
		}
	}
}

func (l *eventLog) snapshot() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event(nil), l.events...)
}

// inFlight counts the calls under way to the fake BMC and preparer
// together; each takes latency of (virtual) time, so that calls of
// different nodes overlap. A nil *inFlight counts nothing and takes no time.
type inFlight struct {
	latency time.Duration
	mu      sync.Mutex
	now     int
	peak    int // the most calls ever under way at once
}

// call counts a call from now until the returned func is called, having
// taken latency.
func (f *inFlight) call() (done func()) {
	if f == nil {
		return func() {}
	}
	f.mu.Lock()
	f.now++
	f.peak = max(f.peak, f.now)
	f.mu.Unlock()
	time.Sleep(f.latency)
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.now--
	}
}

func (b *fakeBMC) readsOf(node string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reads[node]
}

func (f *inFlight) maxSeen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peak
}

type fakeBMC struct {
	log   *eventLog
	calls *inFlight
	mu    sync.Mutex
	nodes map[string]*fakeNode
	reads map[string]int // PowerState and BootProgress calls per node
}

func newFakeBMC(log *eventLog, scripts map[string]nodeScript) *fakeBMC {
	b := &fakeBMC{log: log, nodes: make(map[string]*fakeNode, len(scripts)), reads: make(map[string]int)}
	for name, s := range scripts {
		n := &fakeNode{nodeScript: s, state: s.initial}
		if s.becoming != "" {
			n.target, n.targetAt = s.becoming, time.Now().Add(s.becomingDelay)
			n.onAt = n.targetAt
		}
		b.nodes[name] = n
	}
	return b
}

var errConflict = errors.New("409 Conflict: operation in progress")

// node returns a node with its pending change applied if due, under b.mu.
func (b *fakeBMC) node(name string) *fakeNode {
	n := b.nodes[name]
	if n.target != "" && !time.Now().Before(n.targetAt) {
		n.state, n.target = n.target, ""
	}
	return n
}

func (b *fakeBMC) PowerState(ctx context.Context, name string) (power.State, error) {
	defer b.calls.call()()
	b.mu.Lock()
	b.reads[name]++
	n := b.node(name)
	if n.hang {
		b.mu.Unlock()
		<-ctx.Done()
		return "", ctx.Err()
	}
	defer b.mu.Unlock()
	switch {
	case n.brokenReads:
		return "", atNode(name, "power state", errors.New("connection refused"))
	case n.target != "" && n.pollErrors > 0:
		n.pollErrors--
		return "", atNode(name, "power state", errors.New("503 Service Unavailable"))
	case n.target == power.Off:
		return power.PoweringOff, nil
	case n.target == power.On:
		return power.PoweringOn, nil
	}
	return n.state, nil
}

// fakeResetTypes are the reset types the fakes say they sent per action.
var fakeResetTypes = map[power.Action]string{
	power.GracefulOff: "GracefulShutdown",
	power.ForceOff:    "ForceOff",
	power.PowerOn:     "On",
}

var errNoResetType = errors.New("no suitable reset type offered")

func (b *fakeBMC) WhyNoReset(_ context.Context, name string, action power.Action) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.Contains(b.nodes[name].noReset, action) {
		return errNoResetType.Error(), nil
	}
	return "", nil
}

func (b *fakeBMC) Reset(ctx context.Context, name string, action power.Action) (string, error) {
	b.mu.Lock()
	unsupported := slices.Contains(b.nodes[name].noReset, action)
	b.mu.Unlock()
	if unsupported {
		return "", errNoResetType
	}
	defer b.calls.call()()
	b.log.add(event{reset: true, node: name, action: action})
	b.mu.Lock()
	n := b.node(name)
	if n.hang {
		b.mu.Unlock()
		<-ctx.Done()
		return "", ctx.Err()
	}
	defer b.mu.Unlock()
	if n.busyIgnoresReset && n.target != "" {
		return fakeResetTypes[action], nil
	}
	if err := n.apply(action); err != nil {
		return "", atNode(name, "reset "+string(action), err)
	}
	return fakeResetTypes[action], nil
}

// atNode is err as the real driver returns it: its text names the node and
// its BMC, its reason (package reason) does not.
func atNode(node, op string, err error) error {
	return reason.At(fmt.Sprintf("node %s (bmc https://bmc-%s): %s", node, node, op), err)
}

// apply starts the change action asks for; the caller holds the BMC's lock.
func (n *fakeNode) apply(action power.Action) error {
	switch action {
	case power.GracefulOff:
		n.change(power.Off, n.gracefulDelay)
	case power.ForceOff:
		n.change(power.Off, n.forceDelay)
	case power.PowerOn:
		if n.onErrors > 0 {
			n.onErrors--
			return errConflict
		}
		n.change(power.On, n.onDelay)
		n.onAt = n.targetAt
	default:
		return fmt.Errorf("unknown action %q", action)
	}
	return nil
}

// change schedules the node to reach state after delay, unless it already
// is there or on its way.
func (n *fakeNode) change(state power.State, delay time.Duration) {
	if delay == never || n.state == state || n.target == state {
		return
	}
	n.target, n.targetAt = state, time.Now().Add(delay)
}

// progressQuirk is how a fake BMC reports BootProgress.
type progressQuirk int

const (
	// progressTimed: "None" while off, then OSBootStarted from the On and
	// OSRunning once booted, each with the time it began.
	progressTimed progressQuirk = iota
	// progressUntimed: the same states without LastStateTime.
	progressUntimed
	// progressStuckNone: "None" since the epoch, whatever happens (OpenBMC
	// on a host that posts no progress codes).
	progressStuckNone
	// progressStale: OSRunning since a day before the session, whatever
	// happens.
	progressStale
	// progressStaleUntimed: OSRunning without a time, whatever happens.
	progressStaleUntimed
)

// progressBMC is a fakeBMC that also reports Redfish BootProgress.
type progressBMC struct{ *fakeBMC }

func (b progressBMC) BootProgress(_ context.Context, name string) (power.BootProgress, error) {
	defer b.calls.call()()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads[name]++
	n := b.node(name)
	var progress power.BootProgress
	switch {
	case n.progress == progressStuckNone:
		return power.BootProgress{LastState: noProgress, LastStateTime: time.Unix(0, 0)}, nil
	case n.progress == progressStale:
		return power.BootProgress{LastState: osRunning, LastStateTime: time.Now().Add(-24 * time.Hour).Truncate(time.Hour)}, nil
	case n.progress == progressStaleUntimed:
		return power.BootProgress{LastState: osRunning}, nil
	case n.state != power.On:
		progress = power.BootProgress{LastState: noProgress}
	case n.bootDelay == never || time.Now().Before(n.onAt.Add(n.bootDelay)):
		progress = power.BootProgress{LastState: "OSBootStarted", LastStateTime: n.onAt}
	default:
		progress = power.BootProgress{LastState: osRunning, LastStateTime: n.onAt.Add(n.bootDelay)}
	}
	if n.progress == progressUntimed {
		progress.LastStateTime = time.Time{}
	}
	return progress, nil
}

// fakeRecorder logs transitions; failOn, if set, makes Record fail.
type fakeRecorder struct {
	log    *eventLog
	failOn func(Transition) bool
	syncs  atomic.Int64
}

var errDiskFull = errors.New("write state: no space left on device")

func (r *fakeRecorder) Record(_ context.Context, t Transition) error {
	if r.failOn != nil && r.failOn(t) {
		return errDiskFull
	}
	r.log.add(event{node: t.Node, transition: t})
	return nil
}

func (r *fakeRecorder) Sync(_ context.Context, node string) error {
	r.syncs.Add(1)
	r.log.sync(node)
	return nil
}

// fakePreparer logs each PrepareBoot and FinishBoot; it fails nodes in fail
// and blocks nodes in hang until their context ends.
type fakePreparer struct {
	log      *eventLog
	calls    *inFlight
	warnings []string // PrepareBoot's
	finished []string // FinishBoot's
	fail     map[string]bool
	hang     map[string]bool
}

var errNoImage = errors.New("read manifest s3://boot-images/x/manifest.json: 404 Not Found")

func (p *fakePreparer) PrepareBoot(ctx context.Context, sessionID, bootSet, node string) ([]string, error) {
	defer p.calls.call()()
	p.log.add(event{prepare: true, node: node})
	switch {
	case sessionID != "s1" || bootSet == "":
		return nil, fmt.Errorf("unexpected session %q boot set %q", sessionID, bootSet)
	case p.hang[node]:
		<-ctx.Done()
		return nil, ctx.Err()
	case p.fail[node]:
		return nil, errNoImage
	}
	return p.warnings, nil
}

func (p *fakePreparer) FinishBoot(_ context.Context, bootSet, node string) []string {
	defer p.calls.call()()
	p.log.add(event{finish: true, node: node})
	if bootSet == "" {
		return []string{"unexpected empty boot set"}
	}
	return p.finished
}

// fakeConfigurer logs each Configure call and answers with results(req);
// a nil results blocks until the context ends.
type fakeConfigurer struct {
	log     *eventLog
	took    time.Duration // each call takes this long
	results func(ConfigureRequest) (map[string]error, error)
}

func (c *fakeConfigurer) Configure(ctx context.Context, req ConfigureRequest) (map[string]error, error) {
	c.log.add(event{configure: &req})
	if c.results == nil {
		<-ctx.Done()
		return nil, fmt.Errorf("ansible-playbook: %w", ctx.Err())
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(c.took):
	}
	return c.results(req)
}

// allSucceed is a Configurer result that succeeds every node.
func allSucceed(req ConfigureRequest) (map[string]error, error) {
	perNode := make(map[string]error, len(req.Nodes))
	for _, n := range req.Nodes {
		perNode[n] = nil
	}
	return perNode, nil
}
