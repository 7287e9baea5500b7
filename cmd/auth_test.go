package cmd

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

const wrongPassword = "wrong username or password (HTTP 401 on session login)"

// checkJSON runs `bos inventory check -o json` and returns its exit code
// and per-node results.
func (e *testEnv) checkJSON() (int, []struct{ Node, Error string }) {
	e.t.Helper()
	code, out, errOut := e.run("inventory", "check", "-o", "json")
	var report struct {
		Nodes []struct{ Node, Error string } `json:"nodes"`
	}
	require.NoError(e.t, json.Unmarshal([]byte(out), &report), "stdout:\n%s\nstderr:\n%s", out, errOut)
	return code, report.Nodes
}

// requireOneFailedLoginPerBMC reads the simulator's GET /bmcs.
func (e *testEnv) requireOneFailedLoginPerBMC(bmcs int) {
	e.t.Helper()
	status := e.fleet.BMCs()
	require.Len(e.t, status, bmcs)
	for _, b := range status {
		assert.Equal(e.t, 1, b.FailedLogins, "%s: failed logins", b.Endpoint)
		assert.Zero(e.t, b.Logins, b.Endpoint)
	}
}

// TestInventoryCheckLogsInOncePerBMC: with a wrong password, checking 4
// nodes behind each BMC costs each BMC one failed login, and every node
// names the cause.
func TestInventoryCheckLogsInOncePerBMC(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 8, NodesPerBMC: 4, Profile: "cray-ex", TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultWrongCredentials, Fraction: 1}}})
	code, nodes := env.checkJSON()
	assert.Equal(t, cmdutil.ExitNodesFailed, code)
	require.Len(t, nodes, 8)
	for _, n := range nodes {
		assert.Equal(t, wrongPassword, n.Error, n.Node)
	}
	env.requireOneFailedLoginPerBMC(2)
}

// TestSessionLogsInOncePerBMC: a whole reboot session against BMCs that
// refuse the password fails every node for that reason, at one failed
// login per BMC.
func TestSessionLogsInOncePerBMC(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 16, NodesPerBMC: 8, Profile: "cray-ex", TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultWrongCredentials, Fraction: 1}}})
	code, outcomes := env.rebootAll()
	assert.Equal(t, cmdutil.ExitNodesFailed, code)
	require.Len(t, outcomes, 16)
	for name, outcome := range outcomes {
		assert.Equal(t, "failed", outcome.Category, name)
		assert.Contains(t, outcome.Reason, wrongPassword, name)
	}
	env.requireOneFailedLoginPerBMC(2)
}

// TestSimInventoryWorksWithoutSessionService: the inventory bos sim writes
// (auth: auto) works as written on BMCs without a SessionService: Basic
// auth, no login, nothing left to log out.
func TestSimInventoryWorksWithoutSessionService(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 4, NodesPerBMC: 2, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultNoSessionService, Fraction: 1}}})
	code, nodes := env.checkJSON()
	require.Equal(t, cmdutil.ExitOK, code, "%+v", nodes)
	for _, b := range env.fleet.BMCs() {
		assert.Zero(t, b.Logins, b.Endpoint)
		assert.Zero(t, b.FailedLogins, b.Endpoint)
		assert.Zero(t, b.ActiveSessions, b.Endpoint)
	}
}
