package engine

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

// instantBMC applies every Reset at once, so the benchmark measures the
// engine, not the fake.
type instantBMC struct {
	mu    sync.Mutex
	state map[string]power.State
}

func (b *instantBMC) PowerState(_ context.Context, node string) (power.State, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state[node], nil
}

func (b *instantBMC) Reset(_ context.Context, node string, action power.Action) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if action == power.PowerOn {
		b.state[node] = power.On
	} else {
		b.state[node] = power.Off
	}
	return fakeResetTypes[action], nil
}

type discardRecorder struct{}

func (discardRecorder) Record(context.Context, Transition) error { return nil }
func (discardRecorder) Sync(context.Context, string) error       { return nil }

// instantClock never waits.
type instantClock struct{ fired chan time.Time }

func (c instantClock) Now() time.Time                       { return time.Now() }
func (c instantClock) After(time.Duration) <-chan time.Time { return c.fired }

func BenchmarkReboot10000(b *testing.B) {
	const nodeCount = 10000
	nodes := make([]string, nodeCount)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("x1000c0s%db0n%d", i/4, i%4)
	}
	fired := make(chan time.Time)
	close(fired)
	engine := &Engine{Recorder: discardRecorder{}, Clock: instantClock{fired: fired}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		bmc := &instantBMC{state: make(map[string]power.State, nodeCount)}
		for _, n := range nodes {
			bmc.state[n] = power.On
		}
		engine.BMC = bmc
		result, err := engine.Run(b.Context(), plan(Reboot, Independent, oneBootSet(nodes...)))
		require.NoError(b, err)
		require.Equal(b, nodeCount, result.Counts()[Succeeded])
	}
	runtime.ReadMemStats(&after)
	perNode := float64(b.N * nodeCount)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/perNode, "allocs/node")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/perNode, "B/node")
}
