package cmd

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// The exit codes of DESIGN §5, each from a real command line: scripts
// branch on them, so each one is pinned here in one place.

func TestExitCodesOfFinishedCommands(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 3, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultUnreachable, Nodes: []string{"x3000c0s3b0n0"}}}})
	tests := []struct {
		name   string
		args   []string
		want   int
		stderr string
	}{
		{"0: every node succeeded", []string{"session", "create", "--template", env.template, "--operation", "shutdown",
			"--limit", "x3000c0s[1-2]b0n0"}, cmdutil.ExitOK, ""},
		{"1: an error that is not the input's", []string{"session", "describe", "00000000"}, cmdutil.ExitFailure, "00000000"},
		{"2: invalid input", []string{"session", "create", "--template", env.template, "--operation", "explode"},
			cmdutil.ExitInvalid, "--operation"},
		{"3: the session finished with failed nodes", []string{"session", "create", "--template", env.template,
			"--operation", "shutdown", "--limit", "x3000c0s3b0n0"}, cmdutil.ExitNodesFailed, "1 of 1 nodes failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := env.run(tc.args...)
			assert.Equal(t, tc.want, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			assert.Contains(t, errOut, tc.stderr)
		})
	}
}

func TestExitCodesWhileASessionRuns(t *testing.T) {
	// The node ignores graceful shutdown, so the session waits (for the
	// default 300 s) until it is interrupted: it runs for as long as the
	// test needs, without any sleep.
	const node = "x3000c0s1b0n0"
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultIgnoreGraceful, Nodes: []string{node}}}})
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	done := make(chan int, 1)
	go func() {
		code, _, _ := env.runCtx(ctx, "session", "create", "--template", env.template, "--operation", "shutdown", "--limit", node)
		done <- code
	}()
	id := env.waitRunning()

	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"4: another session holds the nodes", []string{"session", "create", "--template", env.template,
			"--operation", "shutdown", "--limit", "x3000c0s[1-2]b0n0"}, node},
		{"4: deleting a running session", []string{"session", "delete", id}, id},
		{"4: resuming a running session", []string{"session", "resume", id}, id},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := env.run(tc.args...)
			assert.Equal(t, cmdutil.ExitConflict, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			assert.Contains(t, errOut, tc.stderr)
		})
	}

	interrupt()
	require.Equal(t, cmdutil.ExitInterrupted, <-done, "130: interrupted (Ctrl-C cancels the context)")
	code, _, errOut := env.run("session", "status", id)
	assert.Equal(t, cmdutil.ExitInterrupted, code, "status gives a cancelled session's code too: %s", errOut)
}
