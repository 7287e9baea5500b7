package bootimage

import (
	"context"
	"fmt"
	"sync"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/reason"
)

// bmcChanges remembers, per node, what PrepareBoot changed on its BMC
// that FinishBoot may have to undo. It lives as long as the process: a
// resumed session does not prepare again a node whose On was recorded, so
// such a node's BMC is not put back (its boot override was one-time).
type bmcChanges struct {
	mu     sync.Mutex
	byNode map[string]*bmcChange
}

type bmcChange struct {
	override *bmc.BootOverrideChange // nil: no override set
	media    string                  // the image inserted; "": none
}

func (c *bmcChanges) of(node string) *bmcChange {
	if c.byNode == nil {
		c.byNode = make(map[string]*bmcChange)
	}
	change, ok := c.byNode[node]
	if !ok {
		change = &bmcChange{}
		c.byNode[node] = change
	}
	return change
}

func (c *bmcChanges) setOverride(node string, override bmc.BootOverrideChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.of(node).override = &override
}

func (c *bmcChanges) insertedMedia(node, image string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.of(node).media = image
}

// take returns and forgets what was changed on node's BMC (nil: nothing).
func (c *bmcChanges) take(node string) *bmcChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	change := c.byNode[node]
	delete(c.byNode, node)
	return change
}

// setOverride sets o on node and remembers what it changed; see
// BootControl.SetBootOverride for the change and the error.
func (p *Preparer) setOverride(ctx context.Context, node string, o bmc.BootOverride) (bmc.BootOverrideChange, error) {
	change, err := p.bmc.SetBootOverride(ctx, node, o)
	if err == nil {
		p.changes.setOverride(node, change)
	}
	return change, err
}

// FinishBoot undoes, once the node's boot phase is over (booted or not),
// what PrepareBoot changed on its BMC and the boot did not use up
// (engine.BootFinisher): the boot override goes back to what the BMC held
// before, if it is still bos's (stored as Continuous, or one-time and not
// used), and the ISO bos inserted is ejected. Each warning says what it
// found and did, or could not do.
func (p *Preparer) FinishBoot(ctx context.Context, bootSet, node string) []string {
	change := p.changes.take(node)
	if change == nil {
		return nil
	}
	var warnings []string
	if change.override != nil {
		if warning := p.restoreOverride(ctx, node, *change.override); warning != "" {
			warnings = append(warnings, warning)
		}
	}
	if change.media != "" {
		if _, err := p.bmc.EjectMedia(ctx, node, change.media); err != nil {
			warnings = append(warnings, "could not eject the virtual media bos inserted: "+reason.Of(err))
		}
	}
	return warnings
}

// restoreOverride puts the boot override back and says what happened, if
// anything an administrator should know.
func (p *Preparer) restoreOverride(ctx context.Context, node string, change bmc.BootOverrideChange) string {
	found := ""
	if change.Persistent() {
		found = fmt.Sprintf("boot override stored as %s (persistent)", change.After.Enabled)
	}
	held, restored, err := p.bmc.RestoreBootOverride(ctx, node, change)
	switch {
	case err != nil && found != "":
		return fmt.Sprintf("%s; could not restore %s after boot: %s", found, change.Before, reason.Of(err))
	case err != nil:
		return fmt.Sprintf("could not restore the boot override %s after boot: %s", change.Before, reason.Of(err))
	case restored && found != "":
		return fmt.Sprintf("%s; restored %s after boot", found, change.Before)
	case restored:
		return fmt.Sprintf("one-time boot override not used by the boot (still %s); restored %s", held, change.Before)
	}
	return found
}
