package engine

import (
	"context"

	"github.com/bos-project/bos/internal/power"
)

// bmcSlots bounds the calls that talk to BMCs (PowerState, Reset,
// WhyNoReset, BootProgress, PrepareBoot, FinishBoot) in flight session-wide to
// Options.MaxConcurrency (DESIGN §4: in-flight BMC requests). A node holds a
// slot only for the length of one call: never while it sleeps between
// polls, waits for its ordinal or lockstep turn or for a power-on stagger
// slot, so a long wait of one node never holds up another.
//
// Each call runs on a goroutine of its own that ends with it, not on the
// calling node's: an HTTP exchange and its JSON decoding grow a
// goroutine's stack from 4 to 8 KB or more, which a node would then keep
// through every wait (80 MB at 10,000 nodes). Nor on a pool of long-lived
// workers: once MaxConcurrency calls had been in flight together, the pool
// kept that many deep stacks for the rest of the session (10,000 of them
// with --max-concurrency 10000), where a call's own goroutine gives its
// stack back when the call returns. See also progressQueue.
type bmcSlots struct {
	tokens chan struct{}
}

func newBMCSlots(size int) *bmcSlots {
	return &bmcSlots{tokens: make(chan struct{}, size)}
}

// withSlot makes call once a slot is free, or returns ctx's error if ctx
// ends first; the slot is free again when call returns.
func withSlot[T any](ctx context.Context, slots *bmcSlots, call func() (T, error)) (T, error) {
	select {
	case slots.tokens <- struct{}{}:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	type outcome struct {
		value T
		err   error
	}
	done := make(chan outcome, 1)
	go func() {
		value, err := call()
		<-slots.tokens
		done <- outcome{value, err}
	}()
	result := <-done
	return result.value, result.err
}

// boundedBMC is a BMC whose calls take a slot.
type boundedBMC struct {
	bmc   BMC
	slots *bmcSlots
}

func (b boundedBMC) PowerState(ctx context.Context, node string) (power.State, error) {
	return withSlot(ctx, b.slots, func() (power.State, error) { return b.bmc.PowerState(ctx, node) })
}

func (b boundedBMC) Reset(ctx context.Context, node string, action power.Action) (string, error) {
	return withSlot(ctx, b.slots, func() (string, error) { return b.bmc.Reset(ctx, node, action) })
}

// boundedResetChecker is a ResetChecker whose calls take a slot: the first
// check of a system may read its reset ActionInfo.
type boundedResetChecker struct {
	checker ResetChecker
	slots   *bmcSlots
}

func (b boundedResetChecker) WhyNoReset(ctx context.Context, node string, action power.Action) (string, error) {
	return withSlot(ctx, b.slots, func() (string, error) { return b.checker.WhyNoReset(ctx, node, action) })
}

// boundedBootProgress is a BootProgressReader whose calls take a slot.
type boundedBootProgress struct {
	reader BootProgressReader
	slots  *bmcSlots
}

func (b boundedBootProgress) BootProgress(ctx context.Context, node string) (power.BootProgress, error) {
	return withSlot(ctx, b.slots, func() (power.BootProgress, error) { return b.reader.BootProgress(ctx, node) })
}

// boundedSystemReader is a SystemReader whose calls take a slot.
type boundedSystemReader struct {
	reader SystemReader
	slots  *bmcSlots
}

type systemRead struct {
	state    power.State
	progress power.BootProgress
}

func (b boundedSystemReader) ReadSystem(ctx context.Context, node string) (power.State, power.BootProgress, error) {
	read, err := withSlot(ctx, b.slots, func() (systemRead, error) {
		state, progress, err := b.reader.ReadSystem(ctx, node)
		return systemRead{state, progress}, err
	})
	return read.state, read.progress, err
}

// boundedPreparer is a BootPreparer whose calls take a slot: preparing a
// boot sets the node's one-time boot override on its BMC.
type boundedPreparer struct {
	preparer BootPreparer
	slots    *bmcSlots
}

func (b boundedPreparer) PrepareBoot(ctx context.Context, sessionID, bootSet, node string) ([]string, error) {
	return withSlot(ctx, b.slots, func() ([]string, error) { return b.preparer.PrepareBoot(ctx, sessionID, bootSet, node) })
}

// boundedFinisher is a BootFinisher whose calls take a slot. A call that
// finds ctx ended before it got one finishes nothing.
type boundedFinisher struct {
	finisher BootFinisher
	slots    *bmcSlots
}

func (b boundedFinisher) FinishBoot(ctx context.Context, bootSet, node string) []string {
	warnings, _ := withSlot(ctx, b.slots, func() ([]string, error) { return b.finisher.FinishBoot(ctx, bootSet, node), nil })
	return warnings
}
