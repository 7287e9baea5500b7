package sim

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaults(t *testing.T) {
	resetBody := func(resetType string) map[string]string { return map[string]string{"ResetType": resetType} }
	tests := []struct {
		kind  FaultKind
		scale float64
		check func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient)
	}{
		{FaultUnreachable, 0, func(t *testing.T, _ *Fleet, info NodeInfo, _ *redfishClient) {
			endpoint, err := url.Parse(info.Endpoint)
			require.NoError(t, err)
			_, err = net.DialTimeout("tcp", endpoint.Host, time.Second)
			require.Error(t, err, "connection must be refused")
		}},
		{Fault5xx, 0, func(t *testing.T, _ *Fleet, _ NodeInfo, client *redfishClient) {
			status, _, _ := client.do(http.MethodGet, "/redfish/v1/", nil)
			assert.Equal(t, http.StatusServiceUnavailable, status)
		}},
		{FaultSlow, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, _ *redfishClient) {
			n := fleet.byName[info.Name]
			assert.Equal(t, DefaultTiming().scaled(testScale).RequestLatency*slowFactor, n.latency())
		}},
		{FaultWrongCredentials, 0, func(t *testing.T, _ *Fleet, info NodeInfo, client *redfishClient) {
			status, _, _ := client.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": testPassword})
			assert.Equal(t, http.StatusUnauthorized, status)
			client.basic = true
			status, _, _ = client.do(http.MethodGet, info.System, nil)
			assert.Equal(t, http.StatusUnauthorized, status)
		}},
		{FaultSessionLimit, 0, func(t *testing.T, _ *Fleet, _ NodeInfo, client *redfishClient) {
			status, _, _ := client.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": testPassword})
			assert.Equal(t, http.StatusServiceUnavailable, status)
		}},
		{FaultIgnoreGraceful, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("GracefulShutdown"))
			assert.Equal(t, http.StatusNoContent, status)
			assertSettledForever(t, fleet, info.Name, "On")
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceOff"))
			assert.Equal(t, http.StatusNoContent, status)
			client.waitPower(info.System, "Off")
		}},
		{FaultStuckPoweringOn, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			require.NoError(t, fleet.SetPower(info.Name, "Off"))
			client.login()
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
			assert.Equal(t, http.StatusNoContent, status)
			assertSettledForever(t, fleet, info.Name, "PoweringOn")
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
			assert.Equal(t, http.StatusConflict, status, "busy while powering on")
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceOff"))
			assert.Equal(t, http.StatusNoContent, status, "forced off always wins")
			client.waitPower(info.System, "Off")
		}},
		{FaultTransientUnknown, 0, func(t *testing.T, _ *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceOff"))
			require.Equal(t, http.StatusNoContent, status)
			assert.Nil(t, client.powerState(info.System))
			assert.Equal(t, "Unknown", client.powerState(info.System))
			client.waitPower(info.System, "Off")
		}},
		{FaultResetAnswerLost, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			_, err := client.tryPost(t.Context(), info.System+resetSuffix, resetBody("ForceOff"))
			require.Error(t, err, "the connection closes without an answer")
			client.waitPower(info.System, "Off")
			node, ok := fleet.Node(info.Name)
			require.True(t, ok)
			assert.Equal(t, []ActionRecord{{Kind: "Reset", Detail: "ForceOff", Status: 0}}, resetRecords(node.Actions),
				"carried out, answered with nothing")
			status, err := client.tryPost(t.Context(), info.System+resetSuffix, resetBody("NoSuchType"))
			require.NoError(t, err, "a refused reset is still answered")
			assert.Equal(t, http.StatusBadRequest, status)
		}},
		{FaultFirstResetHangs, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			_, err := client.tryPost(ctx, info.System+resetSuffix, resetBody("ForceOff"))
			require.ErrorIs(t, err, context.DeadlineExceeded, "held until the client gave up")
			assertSettledForever(t, fleet, info.Name, "On")
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceOff"))
			assert.Equal(t, http.StatusNoContent, status, "the next reset is served")
			client.waitPower(info.System, "Off")
			node, ok := fleet.Node(info.Name)
			require.True(t, ok)
			assert.Equal(t, []ActionRecord{{Kind: "Reset", Detail: "ForceOff", Status: 0}, {Kind: "Reset", Detail: "ForceOff", Status: http.StatusNoContent}},
				resetRecords(node.Actions))
		}},
		// A larger scale keeps the 409 window (600 ms) far longer than the
		// test needs to notice Off and ask for On.
		{FaultConflictAfterOff, 0.01, func(t *testing.T, _ *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceOff"))
			require.Equal(t, http.StatusNoContent, status)
			client.waitPower(info.System, "Off")
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
			assert.Equal(t, http.StatusConflict, status)
			require.Eventually(t, func() bool {
				status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
				return status == http.StatusNoContent
			}, 10*time.Second, 5*time.Millisecond)
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: 2, TimeScale: tt.scale, Faults: []Fault{{Kind: tt.kind, Nodes: []string{"x3000c0s2b0n0"}}}})
			healthy, faulty := fleet.Nodes()[0], fleet.Nodes()[1]
			tt.check(t, fleet, faulty, newRedfishClient(t, faulty.Endpoint))
			// The fault stays on its node.
			client := newRedfishClient(t, healthy.Endpoint)
			client.login()
			assert.Equal(t, "On", client.powerState(healthy.System))
		})
	}
}

// assertSettledForever checks that nothing more is scheduled for the node:
// it stays in state for good.
func assertSettledForever(t *testing.T, fleet *Fleet, name, state string) {
	t.Helper()
	n := fleet.byName[name]
	n.mu.Lock()
	defer n.mu.Unlock()
	require.Len(t, n.timeline, 1)
	assert.Equal(t, state, n.timeline[0].power)
}

func TestFaultFractionIsDeterministic(t *testing.T) {
	names := nodeNames(100, "")
	faults := []Fault{{Kind: FaultSlow, Fraction: 0.25}, {Kind: Fault5xx, Fraction: 0.1, Nodes: []string{names[0]}}}
	first, err := assignFaults(faults, names)
	require.NoError(t, err)
	second, err := assignFaults(faults, names)
	require.NoError(t, err)
	assert.Equal(t, first, second)

	count := map[FaultKind]int{}
	for _, set := range first {
		for _, kind := range faultKinds {
			if set.has(kind) {
				count[kind]++
			}
		}
	}
	assert.Equal(t, 25, count[FaultSlow])
	assert.GreaterOrEqual(t, count[Fault5xx], 10)
	assert.LessOrEqual(t, count[Fault5xx], 11)
	assert.True(t, first[names[0]].has(Fault5xx))
}

func TestFleetClosesWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	fleet, err := Start(ctx, Options{Nodes: 1, TimeScale: testScale})
	require.NoError(t, err)
	endpoint, err := url.Parse(fleet.Nodes()[0].Endpoint)
	require.NoError(t, err)
	cancel()
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", endpoint.Host, time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err != nil
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, fleet.Close(), "Close after the context ended is a no-op")
}

// resetRecords are the Reset actions of a log, without their times.
func resetRecords(actions []ActionRecord) []ActionRecord {
	var out []ActionRecord
	for _, a := range actions {
		if a.Kind == "Reset" {
			a.Time = time.Time{}
			out = append(out, a)
		}
	}
	return out
}
