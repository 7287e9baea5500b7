package boa

import (
	"context"

	"github.com/bos-project/bos/internal/power"
)

// bmcSlots bounds the calls that talk to BMCs (PowerState, Reset,
// BootProgress, PrepareBoot) in flight session-wide to
// Options.MaxConcurrency (DESIGN §4: in-flight BMC requests). A node holds a
// slot only for the length of one call: never while it sleeps between
// polls, waits for its ordinal or lockstep turn or for a power-on stagger
// slot, so a long wait of one node never holds up another.
type bmcSlots chan struct{}

func newBMCSlots(size int) bmcSlots { return make(bmcSlots, size) }

// withSlot makes call once a slot is free, or returns ctx's error if ctx
// ends first; the slot is free again when call returns.
func withSlot[T any](ctx context.Context, slots bmcSlots, call func() (T, error)) (T, error) {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	defer func() { <-slots }()
	return call()
}

// boundedBMC is a BMC whose calls take a slot.
type boundedBMC struct {
	bmc   BMC
	slots bmcSlots
}

func (b boundedBMC) PowerState(ctx context.Context, node string) (power.State, error) {
	return withSlot(ctx, b.slots, func() (power.State, error) { return b.bmc.PowerState(ctx, node) })
}

func (b boundedBMC) Reset(ctx context.Context, node string, action power.Action) error {
	_, err := withSlot(ctx, b.slots, func() (struct{}, error) { return struct{}{}, b.bmc.Reset(ctx, node, action) })
	return err
}

// boundedBootProgress is a BootProgressReader whose calls take a slot.
type boundedBootProgress struct {
	reader BootProgressReader
	slots  bmcSlots
}

func (b boundedBootProgress) BootProgress(ctx context.Context, node string) (string, error) {
	return withSlot(ctx, b.slots, func() (string, error) { return b.reader.BootProgress(ctx, node) })
}

// boundedPreparer is a BootPreparer whose calls take a slot: preparing a
// boot sets the node's one-time boot override on its BMC.
type boundedPreparer struct {
	preparer BootPreparer
	slots    bmcSlots
}

func (b boundedPreparer) PrepareBoot(ctx context.Context, sessionID, bootSet, node string) (string, error) {
	return withSlot(ctx, b.slots, func() (string, error) { return b.preparer.PrepareBoot(ctx, sessionID, bootSet, node) })
}
