package cmd

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
)

// Issue 17, item 7: hung BMCs are visible. The real binary reboots four
// nodes whose BMCs take every request and answer none, with
// --request-timeout and --request-retries on the command line: the
// progress says the nodes wait on BMCs that do not answer, each node fails
// with how long bos waited and how often, and the session keeps both
// settings, which a retry runs with, from another directory, but for the
// one its command line gives.
func TestHungBMCsAreVisible(t *testing.T) {
	inventory := t.TempDir() + "/inventory.yaml"
	env := newBinaryEnv(t, inventory, "--nodes", "4", "--time-scale", "0.01", "--fault", "silent=x3000c0s[1-4]b0n0")
	t.Setenv("BOS_REQUEST_RETRY_BACKOFF", "0.01")

	code, out, errOut := env.run(env.dir, "session", "create", "--template", "compute.yaml", "--operation", "reboot",
		"--inventory", "inventory.yaml", "--request-timeout", "1s", "--request-retries", "1", "--progress", "-o", "json")
	require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
	assert.Contains(t, errOut, "reboot compute: 4 nodes waiting on BMCs that do not answer\n")
	first := decodeInputs(t, out)
	assert.Equal(t, map[string]string{"request_timeout": "1s", "request_retries": "1"}, first.Settings)
	require.Len(t, first.NodeStates, 4)
	for node, state := range first.NodeStates {
		assert.Equal(t, "read power state: BMC gave no answer within 1s (2 attempts)", state.Reason, node)
	}
	assert.Contains(t, first.RetryCommand, "--request-timeout 1s --request-retries 1")

	code, out, errOut = env.run(t.TempDir(), "session", "retry", first.ID, "--request-retries", "0", "-o", "json")
	require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
	retried := decodeInputs(t, out)
	assert.Equal(t, map[string]string{"request_timeout": "1s", "request_retries": "0"}, retried.Settings)
	for node, state := range retried.NodeStates {
		assert.Equal(t, "read power state: BMC gave no answer within 1s (1 attempt)", state.Reason, node)
	}
	assert.False(t, strings.Contains(errOut, "waiting on"), "no progress without --progress off a terminal:\n%s", errOut)
}
