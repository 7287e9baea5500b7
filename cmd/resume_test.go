package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/power"
)

// TestResumeResendsAnActionNeverConfirmedSent kills bos (-9) after a
// node's graceful shutdown is recorded as intended but before the BMC
// accepted it: the simulator holds that first reset without carrying it
// out. The resume finds the node still On and sends the graceful shutdown
// again at once, instead of waiting out the graceful timeout for a request
// that never landed and then forcing the node off.
func TestResumeResendsAnActionNeverConfirmedSent(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	for k, v := range map[string]string{"BOS_POLL_BASE": "0.005", "BOS_POLL_INTERVAL": "0.02",
		"BOS_REQUEST_RETRY_BACKOFF": "0.001",
		// The held reset is still waiting for its answer when bos dies.
		"BOS_REQUEST_TIMEOUT": "60s",
		// Waiting this out would outlast resumeBound.
		"BOS_GRACEFUL_SHUTDOWN_TIMEOUT": "300s", "BOS_FORCEFUL_SHUTDOWN_TIMEOUT": "3s"} {
		t.Setenv(k, v)
	}
	const held = "x3000c0s2b0n0"
	nodes := []string{"x3000c0s1b0n0", held, "x3000c0s3b0n0", "x3000c0s4b0n0"}
	inventory := filepath.Join(dir, "inventory.yaml")
	bos := buildBos(t)
	start := time.Now()
	control := simProcess(t, bos, inventory, "--nodes", "4", "--time-scale", "0.01", "--fault", "first-reset-hangs="+held)
	template := filepath.Join(dir, "compute.yaml")
	require.NoError(t, os.WriteFile(template, []byte(computeTemplate), 0o600))
	stateDir := filepath.Join(dir, "state")
	global := []string{"--inventory", inventory, "--state-dir", stateDir, "-o", "json"}

	create := exec.Command(bos, append(global, "session", "create", "--template", template, "--operation", "shutdown")...)
	require.NoError(t, create.Start())
	t.Cleanup(func() {
		_ = create.Process.Kill()
		_ = create.Wait()
	})
	var id string
	require.Eventually(t, func() bool {
		out, err := exec.Command(bos, append(global, "session", "list")...).Output()
		var rows []listedRow
		if err != nil || json.Unmarshal(out, &rows) != nil || len(rows) != 1 {
			return false
		}
		id = rows[0].ID
		return true
	}, 10*time.Second, 5*time.Millisecond)
	sessionDir := filepath.Join(stateDir, "sessions", id)
	intent := held + " compute shutdown in_progress: sending graceful-off"
	sent := held + " compute shutdown in_progress: sent graceful-off"
	require.Eventually(t, func() bool {
		return resetsSince(t, control, []string{held}, start)[held]["GracefulShutdown"] == 1 &&
			reflect.DeepEqual(recordedAction(t, sessionDir, held), engine.Transition{Action: power.GracefulOff}) &&
			strings.Contains(readFile(t, filepath.Join(sessionDir, "session.log")), intent)
	}, 10*time.Second, 5*time.Millisecond, "the held reset reached the BMC after its intent was recorded")
	require.NoError(t, create.Process.Signal(syscall.SIGKILL))
	_ = create.Wait()
	assert.NotContains(t, readFile(t, filepath.Join(sessionDir, "session.log")), sent, "never accepted, never logged as sent")

	const resumeBound = 30 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), resumeBound)
	defer cancel()
	out, err := exec.CommandContext(ctx, bos, append(global, "session", "resume", id)...).CombinedOutput()
	require.NoError(t, ctx.Err(), "the resume waited for a graceful shutdown that was never sent")
	require.NoError(t, err, "%s", out)
	assert.Contains(t, readFile(t, filepath.Join(sessionDir, "session.log")), sent)

	out, err = exec.Command(bos, append(global, "session", "describe", id)...).Output()
	require.NoError(t, err)
	var rec recordView
	require.NoError(t, json.Unmarshal(out, &rec))
	assert.Equal(t, "complete", rec.Status)
	assert.Equal(t, 4, rec.Summary.Succeeded)
	for node, resets := range resetsSince(t, control, nodes, start) {
		want := map[string]int{"GracefulShutdown": 1}
		if node == held {
			// The held one, never carried out, and the resume's.
			want["GracefulShutdown"] = 2
		}
		assert.Equal(t, want, resets, "%s: no ForceOff, no reset twice but the one never carried out", node)
	}
}

// recordedAction is the last action recorded in events.jsonl for node, with
// whether it was confirmed sent.
func recordedAction(t *testing.T, sessionDir, node string) engine.Transition {
	t.Helper()
	var last engine.Transition
	scan := bufio.NewScanner(strings.NewReader(readFile(t, filepath.Join(sessionDir, "events.jsonl"))))
	for scan.Scan() {
		var tr engine.Transition
		if json.Unmarshal(scan.Bytes(), &tr) == nil && tr.Node == node && tr.Action != "" {
			last = engine.Transition{Action: tr.Action, Sent: tr.Sent}
		}
	}
	return last
}

// readFile is the file's content, "" while it does not exist.
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if !os.IsNotExist(err) {
		require.NoError(t, err)
	}
	return string(data)
}
