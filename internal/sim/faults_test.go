package sim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
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
		{FaultHeaderBomb, 0, func(t *testing.T, _ *Fleet, info NodeInfo, _ *redfishClient) {
			head := make([]byte, 4<<20)
			_, err := io.ReadFull(rawRequest(t, info, "GET /redfish/v1/"), head)
			require.NoError(t, err)
			assert.True(t, bytes.HasPrefix(head, []byte("HTTP/1.1 200 OK\r\n")))
			assert.NotContains(t, string(head), "\r\n\r\n", "the header never ends")
		}},
		{FaultBodyBomb, 0, func(t *testing.T, _ *Fleet, info NodeInfo, client *redfishClient) {
			resp, err := client.http.Get(info.Endpoint + "/redfish/v1/")
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			_, err = io.CopyN(io.Discard, resp.Body, 16<<20)
			assert.NoError(t, err, "the body goes on")
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

// rawRequest sends a request line to the node over a connection of its
// own and returns the connection, to read the answer from.
func rawRequest(t *testing.T, info NodeInfo, requestLine string) net.Conn {
	t.Helper()
	endpoint, err := url.Parse(info.Endpoint)
	require.NoError(t, err)
	conn, err := net.DialTimeout("tcp", endpoint.Host, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, requestLine+" HTTP/1.1\r\nHost: bmc\r\n\r\n")
	require.NoError(t, err)
	return conn
}

// TestBombsEndWhenTheFleetCloses: a bomb ends with its fleet even while
// its client keeps reading.
func TestBombsEndWhenTheFleetCloses(t *testing.T) {
	for _, kind := range []FaultKind{FaultHeaderBomb, FaultBodyBomb} {
		t.Run(string(kind), func(t *testing.T) {
			fleet, err := Start(t.Context(), Options{Nodes: 1, TimeScale: testScale, Faults: []Fault{{Kind: kind, Fraction: 1}}})
			require.NoError(t, err)
			conn := rawRequest(t, fleet.Nodes()[0], "GET /redfish/v1/")
			_, err = io.CopyN(io.Discard, conn, 1<<20)
			require.NoError(t, err)
			require.NoError(t, fleet.Close())
			_, err = io.Copy(io.Discard, conn)
			assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the answer ended before the read deadline: %v", err)
		})
	}
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
