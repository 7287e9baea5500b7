package boa

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidPlan marks input the engine refuses to run (bad plan or
// options); callers map it to exit status 2.
var ErrInvalidPlan = errors.New("invalid plan")

// Options are the per-session timings and bounds (DESIGN §4). A zero field
// takes its default, so callers can set only what the user overrode.
type Options struct {
	GracefulShutdownTimeout time.Duration // how long GracefulOff gets before ForceOff
	ForcefulShutdownTimeout time.Duration // how long ForceOff gets before the node fails
	PowerOnWait             time.Duration // confirm On after each On request
	BootWait                time.Duration // wait for booted once On is confirmed
	PollInterval            time.Duration // cap of the poll back-off
	PollBase                time.Duration // first poll delay; the back-off is PollBase×(1,1,1,1,2,2,4,4,…)
	RetryPolicy             int           // attempts of the power-on step per node
	MaxConcurrency          int           // nodes being acted on or polled at once, session-wide
}

// DefaultOptions are BOS v1's defaults.
func DefaultOptions() Options {
	return Options{
		GracefulShutdownTimeout: 300 * time.Second,
		ForcefulShutdownTimeout: 180 * time.Second,
		PowerOnWait:             120 * time.Second,
		BootWait:                1200 * time.Second,
		PollInterval:            5 * time.Second,
		PollBase:                time.Second,
		RetryPolicy:             3,
		MaxConcurrency:          1000,
	}
}

// withDefaults returns o with every zero field set to its default, or an
// error naming the first negative field.
func (o Options) withDefaults() (Options, error) {
	defaults := DefaultOptions()
	durations := []struct {
		name     string
		value    *time.Duration
		fallback time.Duration
	}{
		{"graceful shutdown timeout", &o.GracefulShutdownTimeout, defaults.GracefulShutdownTimeout},
		{"forceful shutdown timeout", &o.ForcefulShutdownTimeout, defaults.ForcefulShutdownTimeout},
		{"power on wait", &o.PowerOnWait, defaults.PowerOnWait},
		{"boot wait", &o.BootWait, defaults.BootWait},
		{"poll interval", &o.PollInterval, defaults.PollInterval},
		{"poll base", &o.PollBase, defaults.PollBase},
	}
	for _, d := range durations {
		if *d.value < 0 {
			return o, fmt.Errorf("%w: %s is %s; it must be positive (or 0 for the default %s)", ErrInvalidPlan, d.name, *d.value, d.fallback)
		}
		if *d.value == 0 {
			*d.value = d.fallback
		}
	}
	counts := []struct {
		name     string
		value    *int
		fallback int
	}{
		{"retry policy", &o.RetryPolicy, defaults.RetryPolicy},
		{"max concurrency", &o.MaxConcurrency, defaults.MaxConcurrency},
	}
	for _, c := range counts {
		if *c.value < 0 {
			return o, fmt.Errorf("%w: %s is %d; it must be at least 1 (or 0 for the default %d)", ErrInvalidPlan, c.name, *c.value, c.fallback)
		}
		if *c.value == 0 {
			*c.value = c.fallback
		}
	}
	return o, nil
}

// pollDelay is the wait before poll number attempt (0-based):
// PollBase×(1,1,1,1,2,2,4,4,…), never more than PollInterval. BMCs usually
// settle within seconds, so the first polls are quick; slow ones are not
// hammered.
func (o Options) pollDelay(attempt int) time.Duration {
	delay := o.PollBase
	for step := 4; step <= attempt && delay < o.PollInterval; step += 2 {
		delay *= 2
	}
	return min(delay, o.PollInterval)
}
