package configure

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
)

func TestCommandProtocol(t *testing.T) {
	dir := t.TempDir()
	stdinCopy := filepath.Join(dir, "stdin.json")
	script := writeFile(t, dir, "configure-nodes", `#!/bin/sh
cat > "$1"
echo "configuring for $BOS_SESSION_ID/$BOS_BOOT_SET/$BOS_CONFIGURATION"
echo '{"node":"n1","ok":true}'
echo '{"node":"n2","ok":false,"message":"disk full"}'
echo '{"node":"n4","ok":false}'
echo '{"node":"stranger","ok":true}'
echo 'warning: n3 was slow' >&2
exit 3
`)
	var log bytes.Buffer
	r := New(map[string]config.Configuration{"report": {Type: config.ConfigurationCommand, Command: []string{script, stdinCopy}}},
		Options{Log: &log, Nodes: computeNodes("n1", "n2", "n3", "n4")})
	require.NoError(t, r.Check("report"))
	results, err := r.Configure(context.Background(), engine.ConfigureRequest{
		SessionID: "s-2", BootSet: "compute", Configuration: "report", Nodes: []string{"n1", "n2", "n3", "n4"}})
	require.NoError(t, err)

	require.Len(t, results, 4)
	assert.NoError(t, results["n1"], "a node reported ok succeeds even though the command exited 3")
	assert.EqualError(t, results["n2"], "disk full")
	assert.EqualError(t, results["n3"], "the command reported no result for this node (it exited with status 3: warning: n3 was slow)")
	assert.EqualError(t, results["n4"], "failed (the command gave no message)")

	var in struct {
		SessionID     string `json:"session_id"`
		Configuration string `json:"configuration"`
		BootSet       string `json:"boot_set"`
		Nodes         []struct {
			Name   string   `json:"name"`
			Role   string   `json:"role"`
			Groups []string `json:"groups"`
		} `json:"nodes"`
	}
	raw, err := os.ReadFile(stdinCopy)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &in))
	assert.Equal(t, "s-2", in.SessionID)
	assert.Equal(t, "report", in.Configuration)
	assert.Equal(t, "compute", in.BootSet)
	require.Len(t, in.Nodes, 4)
	assert.Equal(t, "n1", in.Nodes[0].Name)
	assert.Equal(t, "Compute", in.Nodes[0].Role)
	assert.Equal(t, []string{"gpu"}, in.Nodes[0].Groups)
	assert.NotContains(t, string(raw), "s3cret-bmc", "BMC credentials never reach a runner")
	assert.NotContains(t, string(raw), "bmc")

	assert.Contains(t, log.String(), "configure[1] configuring for s-2/compute/report\n")
	assert.Contains(t, log.String(), "configure[1] warning: n3 was slow\n")
	assert.Contains(t, log.String(), "configure[1] ignored a result for stranger: not in this batch\n")
	assert.Contains(t, log.String(), "configure[1] done: 1 succeeded, 3 failed\n")
}

func TestCommandThatCannotStartFailsTheBatch(t *testing.T) {
	r := New(map[string]config.Configuration{"gone": {Type: config.ConfigurationCommand, Command: []string{"/nonexistent/configure"}}}, Options{})
	_, err := r.Configure(context.Background(), engine.ConfigureRequest{Configuration: "gone", BootSet: "b", Nodes: []string{"n1"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `configuration "gone" on boot set b: start /nonexistent/configure`)
}

// TestCancelKillsTheProcessGroup: a runner's children, even one that
// ignores SIGTERM, are gone once Configure returns from a cancelled ctx.
func TestCancelKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	script := writeFile(t, dir, "hang", `#!/bin/sh
sh -c 'trap "" TERM; exec sleep 300' &
echo $! > "$1.tmp"
sleep 300 &
echo $! >> "$1.tmp"
mv "$1.tmp" "$1"
wait
`)
	r := New(map[string]config.Configuration{"hang": {Type: config.ConfigurationCommand, Command: []string{script, pids}}},
		Options{KillGrace: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Configure(ctx, engine.ConfigureRequest{Configuration: "hang", BootSet: "b", Nodes: []string{"n1"}})
		done <- err
	}()
	require.Eventually(t, func() bool { _, err := os.Stat(pids); return err == nil }, 10*time.Second, 5*time.Millisecond)
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)

	raw, err := os.ReadFile(pids)
	require.NoError(t, err)
	children := strings.Fields(string(raw))
	require.Len(t, children, 2)
	for _, child := range children {
		pid, err := strconv.Atoi(child)
		require.NoError(t, err)
		assert.Eventually(t, func() bool { return !alive(pid) }, 5*time.Second, 5*time.Millisecond, "child %d still running", pid)
	}
}

// alive says whether pid is a running (not zombie) process: an orphan
// killed in a container whose init does not reap stays a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// TestRunnersDoNotInheritBMCPasswords: whatever runs a configuration (a
// command, ansible-playbook, and anything they start) gets bos's
// environment without the variables the inventory reads BMC passwords from.
func TestRunnersDoNotInheritBMCPasswords(t *testing.T) {
	t.Setenv("BOS_TEST_BMC_PASSWORD", "s3cret-default")
	t.Setenv("RACK7_BMC_PASSWORD", "s3cret-rack7")
	t.Setenv("BOS_TEST_KEEP", "kept")
	dir := t.TempDir()
	dump := filepath.Join(dir, "env")
	// The runner writes its environment where the test can read it, then
	// reports every node configured.
	runner := writeFile(t, dir, "dump-env", `#!/bin/sh
env > "`+dump+`"
echo '{"node":"n1","ok":true}'
`)
	playbook := writeFile(t, dir, "site.yml", "- hosts: all\n  tasks: []\n")
	tests := []struct {
		name string
		conf config.Configuration
	}{
		{"command", config.Configuration{Type: config.ConfigurationCommand, Command: []string{runner}}},
		{"ansible", config.Configuration{Type: config.ConfigurationAnsible, Playbook: playbook}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(dump) // the last subtest's
			r := New(map[string]config.Configuration{"site": tc.conf}, Options{
				Nodes: computeNodes("n1"), AnsiblePlaybook: runner,
				SecretEnv: []string{"BOS_TEST_BMC_PASSWORD", "RACK7_BMC_PASSWORD"},
			})
			_, err := r.Configure(context.Background(), engine.ConfigureRequest{
				SessionID: "s-1", BootSet: "compute", Configuration: "site", Nodes: []string{"n1"}})
			require.NoError(t, err)
			env, err := os.ReadFile(dump)
			require.NoError(t, err)
			assert.NotContains(t, string(env), "BOS_TEST_BMC_PASSWORD")
			assert.NotContains(t, string(env), "RACK7_BMC_PASSWORD")
			assert.NotContains(t, string(env), "s3cret")
			assert.Contains(t, strings.Split(string(env), "\n"), "BOS_TEST_KEEP=kept", "everything else is inherited")
		})
	}
}
