package bmc

import (
	"context"
	"fmt"
)

// BootProgress reads the node's Redfish BootProgress.LastState (e.g.
// "OSRunning"). It returns "" without error when the BMC does not report
// boot progress, so callers can fall back to power state alone.
func (p *Pool) BootProgress(ctx context.Context, node string) (string, error) {
	ref, err := p.node(node)
	if err != nil {
		return "", fmt.Errorf("node %s: boot progress: %w", node, err)
	}
	var fields struct {
		BootProgress *struct{ LastState *string }
	}
	if err := p.readFields(ctx, ref, &fields); err != nil {
		return "", fmt.Errorf("node %s: boot progress: %w", node, err)
	}
	if fields.BootProgress == nil || fields.BootProgress.LastState == nil {
		return "", nil
	}
	return *fields.BootProgress.LastState, nil
}
