package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/sim"
)

// timingView is the timing of a session record, or of its status.
type timingView struct {
	Status  string
	Summary struct {
		Timing struct {
			StartTime time.Time `json:"start_time"`
			Duration  string
		}
	}
}

// elapsed is the duration the view gives, and how long after the start
// at was.
func (v timingView) elapsed(t *testing.T, at time.Time) (shown, since time.Duration) {
	t.Helper()
	shown, err := time.ParseDuration(v.Summary.Timing.Duration)
	require.NoError(t, err)
	return shown, at.Sub(v.Summary.Timing.StartTime)
}

// TestStatusOfARunningSessionShowsItsLiveDuration: the record of a
// session whose node waits is not saved again, yet `bos session status`
// (a bos process of its own) counts its duration up to now.
func TestStatusOfARunningSessionShowsItsLiveDuration(t *testing.T) {
	// The node ignores graceful shutdown: the session waits (for the
	// default 300 s) until the test interrupts it, without any sleep.
	const node = "x3000c0s1b0n0"
	env := newTestEnv(t, sim.Options{Nodes: 1, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultIgnoreGraceful, Nodes: []string{node}}}})
	ctx, interrupt := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		code, _, _ := env.runCtx(ctx, "session", "create", "--template", env.template, "--operation", "shutdown")
		done <- code
	}()
	defer func() {
		interrupt()
		<-done
	}()
	id := env.waitRunning()

	// Once the node only waits, the saved record falls behind the clock.
	saved := filepath.Join(env.stateDir, "sessions", id, "session.json")
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(saved)
		var record timingView
		if err != nil || json.Unmarshal(data, &record) != nil || record.Summary.Timing.Duration == "" {
			return false
		}
		shown, since := record.elapsed(t, time.Now())
		return since-shown > 100*time.Millisecond
	}, 10*time.Second, 10*time.Millisecond)

	asked := time.Now()
	out, err := bosCommand(t, "--inventory", env.inventory, "--state-dir", env.stateDir,
		"session", "status", id, "-o", "json").Output()
	require.NoError(t, err, "a running session's status exits 0")
	var status timingView
	require.NoError(t, json.Unmarshal(out, &status), "%s", out)
	require.Equal(t, "running", status.Status)
	shown, since := status.elapsed(t, asked)
	assert.GreaterOrEqual(t, shown, since.Truncate(time.Millisecond),
		"the duration runs up to when status was asked, not to the last save")
}
