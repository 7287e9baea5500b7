package bmc

import (
	"context"
	"time"

	"github.com/bos-project/bos/internal/power"
)

// BootProgress reads the node's Redfish BootProgress: LastState (e.g.
// "OSRunning") and LastStateTime, from one read of its system. LastState
// is "" without error when the BMC does not report boot progress, so
// callers can fall back to power state alone; LastStateTime is zero when
// it is absent or not an RFC 3339 time. Neither is trusted: LastState is
// bounded and made printable, as it may end up in a reason.
func (p *Pool) BootProgress(ctx context.Context, node string) (power.BootProgress, error) {
	ref, err := p.node(node)
	if err != nil {
		return power.BootProgress{}, p.nodeError(node, "boot progress", err)
	}
	var fields struct {
		BootProgress *struct {
			LastState     *string
			LastStateTime *string
		}
	}
	if err := p.readFields(ctx, ref, &fields); err != nil {
		return power.BootProgress{}, p.nodeError(node, "boot progress", err)
	}
	reported := fields.BootProgress
	if reported == nil || reported.LastState == nil {
		return power.BootProgress{}, nil
	}
	progress := power.BootProgress{LastState: shownValue(*reported.LastState)}
	if reported.LastStateTime != nil {
		if at, err := time.Parse(time.RFC3339Nano, *reported.LastStateTime); err == nil {
			progress.LastStateTime = at
		}
	}
	return progress, nil
}
