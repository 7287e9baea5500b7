package engine

import (
	"fmt"
	"time"

	"github.com/bos-project/bos/internal/exitcode"
)

// ErrInvalidPlan marks input the engine refuses to run (bad plan or
// options); it means exit code 2.
var ErrInvalidPlan = exitcode.New(exitcode.Invalid, "invalid plan")

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

	// BootProgressGrace is how long after On is confirmed a BootProgress
	// that has not moved since before the power-on (or reads "None") is
	// waited for: then the node succeeds with NoBootProgress as a warning,
	// or fails with it as the reason if RequireBootProgress. Some BMCs
	// never report boot progress (OpenBMC on a host that posts no progress
	// codes); their nodes need not wait out BootWait.
	BootProgressGrace   time.Duration
	RequireBootProgress bool

	// MaxConcurrency is how many calls that talk to BMCs (PowerState,
	// Reset, BootProgress, PrepareBoot, FinishBoot) may be in flight at once,
	// session-wide (DESIGN §4); the BMC driver further limits requests per
	// BMC. It does not bound how many nodes are in a phase: every node
	// allowed to start one does so at once, and holds a slot only for the
	// length of each call, never while it sleeps between polls or waits for
	// its ordinal or lockstep turn or a power-on slot (BatchSize). So 10,000
	// nodes wait out a 20-minute boot together, not in waves. Recorder calls
	// and configure batches do not count against it: the Configurer bounds
	// its own processes.
	MaxConcurrency int

	// BatchSize staggers power-on against inrush: no BatchInterval-long span
	// of the session holds more than BatchSize On requests (retries
	// included). 0 turns staggering off.
	BatchSize     int
	BatchInterval time.Duration

	// ConfigureBatchSize is the most nodes one Configure call gets. A batch
	// of a boot set is handed over when it is full, ConfigureBatchWait after
	// its first node joined, or as soon as no other node of the boot set can
	// still join it.
	ConfigureBatchSize int
	ConfigureBatchWait time.Duration
	// ConfigureWait bounds one Configure call (configure_wait); when it
	// passes, the call's context ends and every node of the batch fails.
	ConfigureWait time.Duration
}

// DefaultOptions are BOS v1's defaults, and bos's own for what BOS v1 did
// not have. They are declared here only: the settings that tune the engine
// take their defaults (and their help) from them.
func DefaultOptions() Options {
	return Options{
		GracefulShutdownTimeout: 300 * time.Second,
		ForcefulShutdownTimeout: 180 * time.Second,
		PowerOnWait:             120 * time.Second,
		BootWait:                1200 * time.Second,
		BootProgressGrace:       180 * time.Second,
		PollInterval:            5 * time.Second,
		PollBase:                time.Second,
		RetryPolicy:             3,
		MaxConcurrency:          1000,
		BatchSize:               0,
		BatchInterval:           10 * time.Second,
		ConfigureBatchSize:      100,
		ConfigureBatchWait:      5 * time.Second,
		ConfigureWait:           1800 * time.Second,
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
		{"boot progress grace", &o.BootProgressGrace, defaults.BootProgressGrace},
		{"poll interval", &o.PollInterval, defaults.PollInterval},
		{"poll base", &o.PollBase, defaults.PollBase},
		{"batch interval", &o.BatchInterval, defaults.BatchInterval},
		{"configure batch wait", &o.ConfigureBatchWait, defaults.ConfigureBatchWait},
		{"configure wait", &o.ConfigureWait, defaults.ConfigureWait},
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
		name      string
		value     *int
		zeroMeans string
		fallback  int
	}{
		{"retry policy", &o.RetryPolicy, "the default", defaults.RetryPolicy},
		{"max concurrency", &o.MaxConcurrency, "the default", defaults.MaxConcurrency},
		{"batch size", &o.BatchSize, "no power-on staggering", defaults.BatchSize},
		{"configure batch size", &o.ConfigureBatchSize, "the default", defaults.ConfigureBatchSize},
	}
	for _, c := range counts {
		if *c.value < 0 {
			return o, fmt.Errorf("%w: %s is %d; it must be at least 1 (or 0 for %s)", ErrInvalidPlan, c.name, *c.value, c.zeroMeans)
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
