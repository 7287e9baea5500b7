package cmd

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// controlRow is what the simulator's control endpoint says of a node.
type controlRow struct {
	Name        string `json:"name"`
	ActionCount int    `json:"action_count"`
	Requests    int64  `json:"requests"`
}

// fleetTraffic reads every node's action and request counts from the
// simulator's control endpoint.
func (e *testEnv) fleetTraffic() map[string]controlRow {
	e.t.Helper()
	resp, err := http.Get(e.fleet.ControlURL() + "/nodes")
	require.NoError(e.t, err)
	defer resp.Body.Close()
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	var rows []controlRow
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&rows))
	byName := make(map[string]controlRow, len(rows))
	for _, r := range rows {
		byName[r.Name] = r
	}
	return byName
}

// runProcess runs bos as a process of its own, as a script would.
func (e *testEnv) runProcess(args ...string) (int, string) {
	e.t.Helper()
	c := bosCommand(e.t, append([]string{"--inventory", e.inventory, "--state-dir", e.stateDir}, args...)...)
	out, err := c.CombinedOutput()
	var exit *exec.ExitError
	if err != nil {
		require.ErrorAs(e.t, err, &exit, "bos did not run: %s", out)
		return exit.ExitCode(), string(out)
	}
	return 0, string(out)
}

// TestEmptyLimitTouchesNoNode: a script passing --limit "$NODES" with NODES
// empty gets exit 2 and no BMC hears from bos, while no --limit at all still
// means every node of the template.
func TestEmptyLimitTouchesNoNode(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 3, TimeScale: 0.001})
	reboot := []string{"session", "create", "--template", env.template, "--operation", "reboot"}
	for _, limit := range []string{"", " ", "\t", " , ", ","} {
		for _, args := range [][]string{
			slices.Concat(reboot, []string{"--limit", limit}),
			slices.Concat(reboot, []string{"--limit=" + limit, "--dry-run"}),
			{"inventory", "list", "-l", limit},
			{"inventory", "check", "--limit", limit},
		} {
			code, out := env.runProcess(args...)
			assert.Equal(t, cmdutil.ExitInvalid, code, "%q: %s", args, out)
			assert.Contains(t, out, "--limit is empty: give node names, groups or 'all'", "%q", args)
		}
	}
	for name, row := range env.fleetTraffic() {
		assert.Zero(t, row.ActionCount, "%s received actions", name)
		assert.Zero(t, row.Requests, "%s was contacted", name)
	}

	code, out := env.runProcess(reboot...)
	require.Equal(t, cmdutil.ExitOK, code, "no --limit: every node of the template\n%s", out)
	for name, row := range env.fleetTraffic() {
		assert.NotZero(t, row.ActionCount, "%s was not rebooted without --limit", name)
	}
}
