package cmd

import (
	"encoding/json"
	"net/http"
	"os"
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// nodeOutcome is one node's entry in `session create -o json`.
type nodeOutcome struct {
	Category string `json:"category"`
	Phase    string `json:"phase"`
	Reason   string `json:"reason"`
}

// rebootAll runs a reboot of every node and returns the exit code and each
// node's outcome.
func (e *testEnv) rebootAll() (int, map[string]nodeOutcome) {
	e.t.Helper()
	code, out, errOut := e.run("session", "create", "--template", e.template, "--operation", "reboot", "-o", "json")
	var result struct {
		NodeStates map[string]nodeOutcome `json:"node_states"`
	}
	require.NoError(e.t, json.Unmarshal([]byte(out), &result), "stdout:\n%s\nstderr:\n%s", out, errOut)
	return code, result.NodeStates
}

// resetsOf lists the reset types a node received, in order, and how each was
// answered.
func (e *testEnv) resetsOf(name string) (types []string, statuses []int) {
	e.t.Helper()
	status, ok := e.fleet.Node(name)
	require.True(e.t, ok, name)
	for _, action := range status.Actions {
		if action.Kind == "Reset" {
			types = append(types, action.Detail)
			statuses = append(statuses, action.Status)
		}
	}
	return types, statuses
}

// requireNoSessionLeft: bos logs out of every BMC it logged in to, whatever
// happened to the node.
func (e *testEnv) requireNoSessionLeft() {
	e.t.Helper()
	for _, node := range e.fleet.Nodes() {
		status, _ := e.fleet.Node(node.Name)
		assert.Zero(e.t, status.ActiveSessions, "%s: sessions left open", node.Name)
	}
}

// TestRebootEveryProfile reboots a fleet of each vendor profile and checks
// that each node got exactly the resets a reboot needs on that vendor.
func TestRebootEveryProfile(t *testing.T) {
	// Keyed by system id, which tells the profiles apart in a mixed fleet.
	resetsBySystem := map[string][]string{
		"437XR1138R2":  {"GracefulShutdown", "On"}, // dmtf
		"1":            {"GracefulShutdown", "On"}, // ilo
		"Node0":        {"Off", "On"},              // cray-ex: Off is its graceful shutdown
		"Self":         {"GracefulShutdown", "On"}, // gigabyte
		"system":       {"On"},                     // openbmc starts Off: nothing to shut down
		"QSBP74100021": {"GracefulShutdown", "On"}, // intel
	}
	for _, profile := range []string{"dmtf", "ilo", "cray-ex", "gigabyte", "openbmc", "intel", "mixed"} {
		t.Run(profile, func(t *testing.T) {
			env := newTestEnv(t, sim.Options{Nodes: 6, Profile: profile, TimeScale: 0.001})
			code, outcomes := env.rebootAll()
			require.Equal(t, cmdutil.ExitOK, code, "%v", outcomes)
			require.Len(t, outcomes, 6)
			for _, node := range env.fleet.Nodes() {
				assert.Equal(t, "succeeded", outcomes[node.Name].Category, "%s: %+v", node.Name, outcomes[node.Name])
				resets, _ := env.resetsOf(node.Name)
				assert.Equal(t, resetsBySystem[path.Base(node.System)], resets, node.Name)
				status, _ := env.fleet.Node(node.Name)
				assert.Equal(t, "On", status.PowerState, node.Name)
				assert.Equal(t, "OSRunning", status.BootProgress, node.Name)
			}
			env.requireNoSessionLeft()
		})
	}
}

// TestRebootWithEachFault gives one node of four a fault and checks its
// outcome, its reason and the resets it received, while the others reboot
// as usual.
func TestRebootWithEachFault(t *testing.T) {
	const faulty = "x3000c0s2b0n0"
	succeeded := func(t *testing.T, outcome nodeOutcome) {
		assert.Equal(t, "succeeded", outcome.Category, "%+v", outcome)
	}
	failedWith := func(reasons ...string) func(*testing.T, nodeOutcome) {
		return func(t *testing.T, outcome nodeOutcome) {
			assert.Equal(t, "failed", outcome.Category, "%+v", outcome)
			for _, reason := range reasons {
				assert.Contains(t, outcome.Reason, reason)
			}
		}
	}
	tests := []struct {
		fault sim.FaultKind
		env   map[string]string // settings the fault needs to end quickly
		check func(t *testing.T, outcome nodeOutcome)
		// resets checks the reset types the faulty node received and the
		// answers it gave.
		resets func(t *testing.T, types []string, statuses []int)
	}{
		{sim.FaultUnreachable, nil, failedWith("unreachable"), noResets},
		{sim.Fault5xx, nil, failedWith("503"), noResets},
		{sim.FaultWrongCredentials, nil, failedWith("401"), noResets},
		{sim.FaultSessionLimit, nil, failedWith("503", "simultaneous sessions exceeding the limit"), noResets},
		{sim.FaultIgnoreGraceful, map[string]string{"BOS_GRACEFUL_SHUTDOWN_TIMEOUT": "50ms"}, succeeded,
			exactly("GracefulShutdown", "ForceOff", "On")},
		{sim.FaultConflictAfterOff, map[string]string{"BOS_REQUEST_RETRY_BACKOFF": "20ms"}, succeeded,
			func(t *testing.T, types []string, statuses []int) {
				require.GreaterOrEqual(t, len(types), 3, "%v", types)
				assert.Equal(t, "GracefulShutdown", types[0])
				for _, resetType := range types[1:] {
					assert.Equal(t, "On", resetType, "only On is repeated")
				}
				assert.Equal(t, http.StatusConflict, statuses[1], "On refused just after Off")
				assert.Equal(t, http.StatusNoContent, statuses[len(statuses)-1], "and taken once the BMC allowed it")
			}},
		{sim.FaultStuckPoweringOn, map[string]string{"BOS_POWER_ON_WAIT": "50ms", "BOS_RETRY_POLICY": "2"}, failedWith("did not power on after 2 attempts"),
			func(t *testing.T, types []string, statuses []int) {
				require.GreaterOrEqual(t, len(types), 2, "%v", types)
				assert.Equal(t, "GracefulShutdown", types[0])
				accepted := 0
				for i, resetType := range types[1:] {
					assert.Equal(t, "On", resetType)
					if statuses[i+1] == http.StatusNoContent {
						accepted++
					}
				}
				assert.Equal(t, 1, accepted, "On taken once; the retry found the node busy powering on")
			}},
		{sim.FaultTransientUnknown, nil, succeeded, exactly("GracefulShutdown", "On")},
		{sim.FaultSlow, nil, succeeded, exactly("GracefulShutdown", "On")},
		// Every answer lost, every reset carried out: the power state shows
		// it, so each step's reset is sent once.
		{sim.FaultResetAnswerLost, nil, succeeded, exactly("GracefulShutdown", "On")},
		// The first reset is held until bos gives up on it, and not carried
		// out: the power state shows it still needed, so it is sent again.
		{sim.FaultFirstResetHangs, map[string]string{"BOS_REQUEST_TIMEOUT": "100ms"}, succeeded,
			func(t *testing.T, types []string, statuses []int) {
				assert.Equal(t, []string{"GracefulShutdown", "GracefulShutdown", "On"}, types)
				assert.Equal(t, []int{0, http.StatusNoContent, http.StatusNoContent}, statuses)
			}},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault), func(t *testing.T) {
			for key, value := range tt.env {
				t.Setenv(key, value)
			}
			env := newTestEnv(t, sim.Options{Nodes: 4, TimeScale: 0.001,
				Faults: []sim.Fault{{Kind: tt.fault, Nodes: []string{faulty}}}})
			code, outcomes := env.rebootAll()
			require.Len(t, outcomes, 4)
			wantCode := cmdutil.ExitOK
			if outcomes[faulty].Category == "failed" {
				wantCode = cmdutil.ExitNodesFailed
			}
			assert.Equal(t, wantCode, code)

			tt.check(t, outcomes[faulty])
			password, err := os.ReadFile(env.inventory + ".password")
			require.NoError(t, err)
			assert.NotContains(t, outcomes[faulty].Reason, string(password))
			types, statuses := env.resetsOf(faulty)
			tt.resets(t, types, statuses)

			for _, node := range env.fleet.Nodes() {
				if node.Name == faulty {
					continue
				}
				assert.Equal(t, "succeeded", outcomes[node.Name].Category, "%s: %+v", node.Name, outcomes[node.Name])
				resets, _ := env.resetsOf(node.Name)
				assert.Equal(t, []string{"GracefulShutdown", "On"}, resets, node.Name)
			}
			env.requireNoSessionLeft()
		})
	}
}

func noResets(t *testing.T, types []string, _ []int) {
	assert.Empty(t, types, "a node bos cannot talk to receives no reset")
}

func exactly(want ...string) func(*testing.T, []string, []int) {
	return func(t *testing.T, types []string, _ []int) { assert.Equal(t, want, types) }
}
