package cmd

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// TestEngineFlagsReachTheEngine: a timeout given as a flag is the one the
// session uses, on every command that takes it (viper binds one flag per
// key, so a flag bound by another command must not win).
func TestEngineFlagsReachTheEngine(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 1, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultIgnoreGraceful, Nodes: []string{"x3000c0s1b0n0"}}}})
	t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "1h")
	// With the env's hour the node would wait an hour; the flag's 50ms
	// escalates to ForceOff at once.
	code, out, errOut := env.run("session", "create", "--template", env.template, "--operation", "shutdown",
		"--graceful-shutdown-timeout", "0.05", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var rec struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	assert.Equal(t, "complete", rec.Status)
	resets, _ := env.resetsOf("x3000c0s1b0n0")
	assert.Equal(t, []string{"GracefulShutdown", "ForceOff"}, resets)
}
