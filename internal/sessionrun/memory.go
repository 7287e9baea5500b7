package sessionrun

import (
	"os"
	"runtime/debug"
)

// A process that runs a session lives minutes to hours with a steady heap
// of a few kilobytes per node (its BMC connection and client, its place in
// the status tree) and a goroutine per node.
const (
	// sessionGCPercent halves the collector's headroom: Go's default
	// (GOGC=100) lets the heap grow to twice its live size between
	// collections. At 10,000 nodes this keeps the process under 200 MB
	// (233 MB before) for about 8 % more CPU.
	sessionGCPercent = 50
	// The soft memory limit is a backstop well above what a session of
	// that many nodes needs at its peak (150 MB at 5,000 nodes, 200 MB at
	// 10,000, 430 MB at 10,000 with --max-concurrency 10000): it never
	// makes the collector work harder in a normal run, but in a long
	// session it stops a burst of garbage (a storm of retries, a large
	// snapshot) from leaving the heap at GOGC's multiple of that burst. A
	// limit near the peak instead would have the collector run
	// continuously: at 5,000 nodes a 100 MiB limit doubled the CPU.
	memoryLimitBase    = 256 << 20
	memoryLimitPerNode = 32 << 10
)

// gcSettings are what the garbage collector is set to for a session; a
// zero field leaves that setting as it is.
type gcSettings struct {
	percent int
	limit   int64
}

// sessionGC is the garbage collection of a process running a session of
// nodes nodes. GOGC and GOMEMLIMIT in the environment, which the Go
// runtime has applied, win over either setting.
func sessionGC(nodes int, lookupEnv func(string) (string, bool)) gcSettings {
	var s gcSettings
	if _, set := lookupEnv("GOGC"); !set {
		s.percent = sessionGCPercent
	}
	if _, set := lookupEnv("GOMEMLIMIT"); !set {
		s.limit = memoryLimitBase + int64(nodes)*memoryLimitPerNode
	}
	return s
}

func (s gcSettings) apply() {
	if s.percent != 0 {
		debug.SetGCPercent(s.percent)
	}
	if s.limit != 0 {
		debug.SetMemoryLimit(s.limit)
	}
}

// tuneGC sets the garbage collector for running a session of nodes nodes,
// when the Runner is asked to (Runner.TuneGC).
func (r *Runner) tuneGC(nodes int) {
	if r.TuneGC {
		sessionGC(nodes, os.LookupEnv).apply()
	}
}
