package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/bos-project/bos/internal/power"
)

// preflightUntouched ends every reason preflight fails a node with.
const preflightUntouched = "; no power action sent"

// preflight runs before a node's first power change in this run (and
// only once, however many phases ask for it): it checks
// that the node's BMC offers what the rest of the operation needs (a way
// to power off when poweringOff, a way to power on when a boot follows)
// and prepares the boot, if one follows. So a reboot prepares the boot
// before the shutdown, as one sets a boot device before a reboot: a node
// that cannot be booted as asked (no such boot override, or one the BMC
// refuses) fails still untouched, rather than being found out once off.
// The checks cost no request of their own where the BMC lists its reset
// types: they come with the system's first read (see ResetChecker).
// It returns why the node fails; its error means ctx ended.
func (p *nodePhase) preflight(ctx context.Context, poweringOff bool) (string, error) {
	if p.preflighted {
		return "", nil
	}
	booting := p.operation.Boots
	var problems []string
	if poweringOff {
		noGraceful, err := p.whyNoReset(ctx, power.GracefulOff)
		if err != nil {
			return p.preflightFailed(ctx, err)
		}
		noForce, err := p.whyNoReset(ctx, power.ForceOff)
		if err != nil {
			return p.preflightFailed(ctx, err)
		}
		if noGraceful != "" && noForce != "" {
			problems = append(problems, fmt.Sprintf("cannot power off: %s: %s; %s: %s", power.GracefulOff, noGraceful, power.ForceOff, noForce))
		} else if noGraceful != "" {
			p.noGraceful = fmt.Sprintf("%s: %s", power.GracefulOff, noGraceful)
		}
	}
	if booting {
		noOn, err := p.whyNoReset(ctx, power.PowerOn)
		if err != nil {
			return p.preflightFailed(ctx, err)
		}
		if noOn != "" {
			problems = append(problems, "cannot power on: "+noOn)
		}
	}
	if len(problems) > 0 {
		return strings.Join(problems, "; ") + preflightUntouched, nil
	}
	if booting {
		reason, err := p.prepareBoot(ctx)
		if err != nil {
			return "", err
		}
		if reason != "" {
			return reason + preflightUntouched, nil
		}
	}
	p.preflighted = true
	return "", nil
}

// whyNoReset asks the ResetChecker, if there is one.
func (p *nodePhase) whyNoReset(ctx context.Context, action power.Action) (string, error) {
	if p.resetChecker == nil {
		return "", nil
	}
	return p.resetChecker.WhyNoReset(ctx, p.node, action)
}

// preflightFailed fails the node on a BMC that could not tell what it
// offers, unless the check ended because ctx did.
func (p *nodePhase) preflightFailed(ctx context.Context, err error) (string, error) {
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return p.because("check reset types", err) + preflightUntouched, nil
}
