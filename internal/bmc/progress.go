package bmc

import (
	"context"
	"time"

	"github.com/stmcginnis/gofish/schemas"

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
	var fields systemStatus
	if err := p.readStatus(ctx, ref, &fields); err != nil {
		return power.BootProgress{}, p.nodeError(node, "boot progress", err)
	}
	return fields.bootProgress(), nil
}

// ReadSystem reads the node's power state and boot progress from one read
// of its system, as PowerState and BootProgress do.
func (p *Pool) ReadSystem(ctx context.Context, node string) (power.State, power.BootProgress, error) {
	ref, err := p.node(node)
	if err != nil {
		return power.Unknown, power.BootProgress{}, p.nodeError(node, "power state", err)
	}
	var fields systemStatus
	if err := p.readStatus(ctx, ref, &fields); err != nil {
		return power.Unknown, power.BootProgress{}, p.nodeError(node, "power state", err)
	}
	return powerState(fields.PowerState), fields.bootProgress(), nil
}

// readStatus reads the node's system into fields and keeps its Boot
// object as the system's latest (see systemRef.latestBoot).
func (p *Pool) readStatus(ctx context.Context, ref *nodeRef, fields *systemStatus) error {
	sys := ref.system
	sys.mu.Lock()
	changes := sys.changes
	sys.mu.Unlock()
	if err := p.readFields(ctx, ref, fields); err != nil {
		return err
	}
	sys.mu.Lock()
	defer sys.mu.Unlock()
	if sys.changes == changes {
		sys.boot, sys.bootChanges = fields.Boot, changes+1
	}
	return nil
}

// systemStatus is what changes of a system as it is powered and boots.
type systemStatus struct {
	Boot         *bootObject
	PowerState   schemas.PowerState
	BootProgress *struct {
		LastState     *string
		LastStateTime *string
	}
}

func (s *systemStatus) bootProgress() power.BootProgress {
	reported := s.BootProgress
	if reported == nil || reported.LastState == nil {
		return power.BootProgress{}
	}
	progress := power.BootProgress{LastState: shownValue(*reported.LastState)}
	if reported.LastStateTime != nil {
		if at, err := time.Parse(time.RFC3339Nano, *reported.LastStateTime); err == nil {
			progress.LastStateTime = at
		}
	}
	return progress
}
