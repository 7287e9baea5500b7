// Package cpuprofile lets a bos process profile itself for the whole of its
// run, so its CPU can be read with pprof against a simulator in a process
// of its own (go test -cpuprofile profiles only in-process tests, which
// would mix the simulator's CPU with bos's).
package cpuprofile

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// Env names the file a CPU profile is written to. It is for developers
// (docs/performance.md), not a setting, so it is not in the settings table.
const Env = "BOS_CPUPROFILE"

// Start profiles the process into the file Env names, if any. stop writes
// the profile out; it must run before the process exits.
func Start() (stop func(), err error) {
	path := os.Getenv(Env)
	if path == "" {
		return func() {}, nil
	}
	file, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Env, err)
	}
	if err := pprof.StartCPUProfile(file); err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("%s: start CPU profile: %w", Env, err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = file.Close()
		// What was allocated, and where, is what the garbage collector's
		// share of the CPU profile comes from.
		if heap, err := os.Create(path + ".allocs"); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(heap, 0)
			_ = heap.Close()
		}
	}, nil
}
