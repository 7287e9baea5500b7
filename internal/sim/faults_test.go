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
	"slices"
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
			assert.Equal(t, DefaultTiming().scaled(testScale).RequestLatency*slowFactor, n.bmc.latency())
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
		// At a scale where the window (0.6 ms) closes before any client
		// could ask, the first On after Off is still refused: the fault
		// shows whatever the client's speed.
		{FaultConflictAfterOff, 0.00001, func(t *testing.T, _ *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceOff"))
			require.Equal(t, http.StatusNoContent, status)
			client.waitPower(info.System, "Off")
			time.Sleep(2 * time.Millisecond) // past the window
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
			assert.Equal(t, http.StatusConflict, status, "first On after Off")
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
			assert.Equal(t, http.StatusNoContent, status, "once the window has passed")
		}},
		{FaultNoSessionService, 0, func(t *testing.T, _ *Fleet, info NodeInfo, client *redfishClient) {
			root := client.get("/redfish/v1/")
			assert.NotContains(t, root, "SessionService")
			assert.NotContains(t, root, "Links")
			status, _, _ := client.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": testPassword})
			assert.Equal(t, http.StatusNotFound, status)
			client.basic = true
			assert.Equal(t, "On", client.powerState(info.System), "Basic auth works")
			for _, path := range []string{"/redfish/v1/SessionService", sessionsPath, sessionsPath + "/1"} {
				status, _, _ = client.do(http.MethodGet, path, nil)
				assert.Equal(t, http.StatusNotFound, status, path)
			}
		}},
		{FaultOverridePersistent, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			status, _, _ := client.do(http.MethodPatch, info.System, map[string]any{"Boot": map[string]string{"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}})
			require.Equal(t, http.StatusNoContent, status)
			boot := client.get(info.System)["Boot"].(map[string]any)
			assert.Equal(t, "Continuous", boot["BootSourceOverrideEnabled"])
			assert.Equal(t, "Pxe", boot["BootSourceOverrideTarget"])
			node, _ := fleet.Node(info.Name)
			assert.Equal(t, "Pxe/Continuous", node.BootSource)
			assert.Equal(t, "Pxe/Once", node.Actions[len(node.Actions)-1].Detail, "the log says what was asked for")
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceRestart"))
			require.Equal(t, http.StatusNoContent, status)
			node, _ = fleet.Node(info.Name)
			assert.Equal(t, "Pxe", node.BootedFrom)
			assert.Equal(t, "Pxe/Continuous", node.BootSource, "not used up")
		}},
		{FaultOverrideUnsupported, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			status, _, _ := client.do(http.MethodPatch, info.System, map[string]any{"Boot": map[string]string{"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}})
			assert.Equal(t, http.StatusMethodNotAllowed, status)
			boot := client.get(info.System)["Boot"].(map[string]any)
			assert.Equal(t, "None", boot["BootSourceOverrideTarget"], "still readable")
			node, _ := fleet.Node(info.Name)
			assert.Equal(t, "None/Disabled", node.BootSource)
			assert.Equal(t, ActionRecord{Kind: "PatchBoot", Detail: "boot override unsupported", Status: http.StatusMethodNotAllowed},
				withoutTime(node.Actions[len(node.Actions)-1]))
		}},
		{FaultBootProgressNone, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			require.NoError(t, fleet.SetPower(info.Name, "Off"))
			client.login()
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
			require.Equal(t, http.StatusNoContent, status)
			waitBooted(t, fleet, info.Name)
			system := client.get(info.System)
			assert.Equal(t, "On", system["PowerState"], "the OS still boots")
			assert.Equal(t, map[string]any{"LastState": "None", "LastStateTime": "1970-01-01T00:00:00.000000+00:00"}, system["BootProgress"])
			node, _ := fleet.Node(info.Name)
			assert.Equal(t, "None", node.BootProgress)
		}},
		{FaultBootProgressStale, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			stale := map[string]any{"LastState": "OSRunning", "LastStateTime": fleet.byName[info.Name].fleet.started.Add(-staleBootAge).UTC().Format(bootTimeLayout)}
			assert.Equal(t, stale, client.get(info.System)["BootProgress"])
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceOff"))
			require.Equal(t, http.StatusNoContent, status)
			client.waitPower(info.System, "Off")
			assert.Equal(t, stale, client.get(info.System)["BootProgress"], "whatever the power state")
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
			require.Equal(t, http.StatusNoContent, status)
			waitBooted(t, fleet, info.Name)
			assert.Equal(t, stale, client.get(info.System)["BootProgress"], "never updated")
		}},
		// A larger scale keeps the graceful shutdown (300 ms) going while
		// the test sends its resets.
		{FaultBusyIgnoresReset, 0.01, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("GracefulShutdown"))
			require.Equal(t, http.StatusNoContent, status)
			n := fleet.byName[info.Name]
			n.mu.Lock()
			timeline := slices.Clone(n.timeline)
			n.mu.Unlock()
			for _, resetType := range []string{"ForceOff", "On"} {
				status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody(resetType))
				assert.Equal(t, http.StatusNoContent, status, "%s accepted while powering off", resetType)
			}
			n.mu.Lock()
			assert.Equal(t, timeline, n.timeline, "and ignored: the graceful shutdown goes on")
			n.mu.Unlock()
			client.waitPower(info.System, "Off")
			status, _, _ = client.do(http.MethodPost, info.System+resetSuffix, resetBody("On"))
			require.Equal(t, http.StatusNoContent, status)
			node, _ := fleet.Node(info.Name)
			var resets []ActionRecord
			for _, action := range node.Actions {
				if action.Kind == "Reset" {
					resets = append(resets, withoutTime(action))
				}
			}
			assert.Equal(t, []ActionRecord{
				{Kind: "Reset", Detail: "GracefulShutdown", Status: http.StatusNoContent},
				{Kind: "Reset", Detail: "ForceOff", Status: http.StatusNoContent, Ignored: true},
				{Kind: "Reset", Detail: "On", Status: http.StatusNoContent, Ignored: true},
				{Kind: "Reset", Detail: "On", Status: http.StatusNoContent},
			}, resets)
		}},
		{FaultNoSSE, 0, func(t *testing.T, _ *Fleet, _ NodeInfo, client *redfishClient) {
			client.login()
			assert.NotNil(t, client.get("/redfish/v1/")["EventService"])
			service := client.get(eventServicePath)
			assert.Equal(t, true, service["ServiceEnabled"])
			assert.NotContains(t, service, "ServerSentEventUri")
			_, resp, _ := openStream(t, client)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		}},
		{FaultNoEventService, 0, func(t *testing.T, _ *Fleet, _ NodeInfo, client *redfishClient) {
			client.login()
			assert.NotContains(t, client.get("/redfish/v1/"), "EventService")
			status, _, _ := client.do(http.MethodGet, eventServicePath, nil)
			assert.Equal(t, http.StatusNotFound, status)
			_, resp, _ := openStream(t, client)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		}},
		{FaultSSEDrops, 0, func(t *testing.T, fleet *Fleet, info NodeInfo, client *redfishClient) {
			client.login()
			events, resp, _ := openStream(t, client)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, resetBody("ForceOff"))
			require.Equal(t, http.StatusNoContent, status)
			first, ok := nextEvent(t, events)
			require.True(t, ok)
			assert.Equal(t, "1", first.id)
			_, ok = nextEvent(t, events)
			assert.False(t, ok, "the stream ends after its first event")
			client.waitPower(info.System, "Off")
			assert.Equal(t, BMCStatus{SSEStreams: 0, SSEEvents: 1}, sseCounts(bmcStatusOf(t, fleet, info.Name)))
			_, resp, _ = openStream(t, client)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "a new stream may be opened")
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
			assert.Equal(t, sseStreamPath, client.get(eventServicePath)["ServerSentEventUri"])
		})
	}
}

func withoutTime(action ActionRecord) ActionRecord {
	action.Time = time.Time{}
	return action
}

// waitBooted waits until the node's timeline has run its course: powered
// on and, but for a BootProgress fault, OSRunning.
func waitBooted(t *testing.T, fleet *Fleet, name string) {
	t.Helper()
	n := fleet.byName[name]
	require.Eventually(t, func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		cur := n.current(time.Now())
		return len(n.timeline) == 1 && cur.power == powerOn && cur.boot == bootOSRunning
	}, 5*time.Second, time.Millisecond)
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
	names := nodeNames(100, 1, "")
	faults := []Fault{{Kind: FaultSlow, Fraction: 0.25}, {Kind: Fault5xx, Fraction: 0.1, Nodes: []string{names[0]}}}
	first, err := assignFaults(faults, names, 1)
	require.NoError(t, err)
	second, err := assignFaults(faults, names, 1)
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

// sseCounts keeps a BMC status's SSE counters alone.
func sseCounts(status BMCStatus) BMCStatus {
	return BMCStatus{SSEStreams: status.SSEStreams, SSEEvents: status.SSEEvents}
}
