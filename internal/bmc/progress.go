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
	settings, err := p.readSettings(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("node %s: boot progress: %w", node, err)
	}
	if settings.BootProgress == nil || settings.BootProgress.LastState == nil {
		return "", nil
	}
	return *settings.BootProgress.LastState, nil
}
