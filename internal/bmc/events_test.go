package bmc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/sim"
)

// eventually bounds how long a test waits for a stream to open or give up:
// it happens in milliseconds, and the bound only keeps a broken build from
// hanging.
const eventually = 10 * time.Second

// watchOutcome waits until the node's BMC stream is live (nil why) or
// given up on (its reason).
func watchOutcome(t *testing.T, pool *Pool, node string) (<-chan struct{}, string) {
	t.Helper()
	var changes <-chan struct{}
	var why string
	require.Eventually(t, func() bool {
		changes, why = pool.Watch(node)
		return changes != nil || why != ""
	}, eventually, time.Millisecond)
	return changes, why
}

// TestEventStreamWakesOnlyTheNodeThatChanged: two nodes behind one BMC share
// one stream; a reset of one wakes that one, and only once the reset is
// sent.
func TestEventStreamWakesOnlyTheNodeThatChanged(t *testing.T) {
	fleet := startSim(t, sim.Options{Nodes: 2, NodesPerBMC: 2, TimeScale: 0.01})
	nodes := simInventory(fleet)
	pool := newTestPool(t, nodes, testOptions())
	ctx := context.Background()
	first, second := nodes[0].Name, nodes[1].Name
	for _, node := range []string{first, second} {
		_, err := pool.PowerState(ctx, node)
		require.NoError(t, err)
	}
	changedFirst, why := watchOutcome(t, pool, first)
	require.Empty(t, why)
	changedSecond, why := watchOutcome(t, pool, second)
	require.Empty(t, why)
	// The stream woke both on opening: what changed before was not told.
	for _, changed := range []<-chan struct{}{changedFirst, changedSecond} {
		select {
		case <-changed:
		case <-time.After(eventually):
			t.Fatal("not woken when the stream opened")
		}
	}

	require.NoError(t, errOf(pool.Reset(ctx, first, power.ForceOff)))
	select {
	case <-changedFirst:
	case <-time.After(eventually):
		t.Fatal("no event for the node reset")
	}
	assert.Empty(t, changedSecond, "the other node did not change")
	bmcs := fleet.BMCs()
	require.Len(t, bmcs, 1)
	assert.Equal(t, 1, bmcs[0].SSEStreams, "one stream per BMC, whatever its nodes")

	require.NoError(t, pool.Close(ctx))
	require.Eventually(t, func() bool { return fleet.BMCs()[0].SSEStreams == 0 }, eventually, time.Millisecond,
		"Close ends the stream")
}

// TestEventStreamFallsBackToPolls: a BMC without usable events is polled,
// for a reason that names it; one whose stream keeps dropping is opened
// again twice first.
func TestEventStreamFallsBackToPolls(t *testing.T) {
	tests := []struct {
		fault sim.FaultKind
		want  string
	}{
		{sim.FaultNoEventService, "the service root offers no EventService"},
		{sim.FaultNoSSE, "its EventService offers no ServerSentEventUri"},
		{sim.FaultSSEDrops, "event stream dropped 3 times"},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault), func(t *testing.T) {
			fleet := startSim(t, sim.Options{Nodes: 1, Profile: "openbmc", Faults: []sim.Fault{{Kind: tt.fault, Fraction: 1}}})
			nodes := simInventory(fleet)
			pool := newTestPool(t, nodes, testOptions())
			ctx := context.Background()
			node := nodes[0].Name
			_, err := pool.PowerState(ctx, node)
			require.NoError(t, err)
			// Each power change is an event, each of which a dropping
			// stream ends with.
			var why string
			require.Eventually(t, func() bool {
				var changes <-chan struct{}
				if changes, why = pool.Watch(node); changes != nil {
					state, err := pool.PowerState(ctx, node)
					require.NoError(t, err)
					action := power.ForceOff
					if state == power.Off {
						action = power.PowerOn
					}
					_, _ = pool.Reset(ctx, node, action)
				}
				return why != ""
			}, eventually, time.Millisecond)
			assert.Contains(t, why, tt.want)
			assert.Contains(t, why, nodes[0].BMC.Endpoint, "the reason names the BMC")
		})
	}
}

// TestEventsOff: with DisableEvents no stream is opened.
func TestEventsOff(t *testing.T) {
	fleet := startSim(t, sim.Options{Nodes: 1, Profile: "openbmc"})
	nodes := simInventory(fleet)
	opts := testOptions()
	opts.DisableEvents = true
	pool := newTestPool(t, nodes, opts)
	_, err := pool.PowerState(context.Background(), nodes[0].Name)
	require.NoError(t, err)
	changes, why := pool.Watch(nodes[0].Name)
	assert.Nil(t, changes)
	assert.Empty(t, why)
	assert.Zero(t, fleet.BMCs()[0].SSEStreams)
}

// TestHostileEventStreams: a stream URI elsewhere gets no request, so no
// credential; an endless line or event is cut off. Either way the BMC's
// nodes are polled.
func TestHostileEventStreams(t *testing.T) {
	var foreignRequests atomic.Int64
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignRequests.Add(1)
	}))
	t.Cleanup(foreign.Close)
	endless := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 4096))
		_, _ = w.Write([]byte("data: "))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	tests := []struct {
		name   string
		uri    func(bmc string) string
		stream http.HandlerFunc
		want   string
	}{
		{name: "foreign origin", uri: func(string) string { return foreign.URL + "/redfish/v1/EventService/SSE" }, want: "to another port"},
		{name: "user info", uri: func(bmc string) string { return strings.Replace(bmc, "http://", "http://evil@", 1) + "/sse" }, want: "with user info"},
		{name: "endless line", uri: func(string) string { return "/redfish/v1/EventService/SSE" }, stream: endless, want: "an event or line over 16384 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, "dmtf")
			f.set("", "EventService", map[string]any{"@odata.id": "/redfish/v1/EventService"})
			service, err := json.Marshal(map[string]any{"ServerSentEventUri": tt.uri(f.server.URL)})
			require.NoError(t, err)
			f.resources["EventService"] = service
			f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/redfish/v1/EventService/SSE" || tt.stream == nil {
					return false
				}
				tt.stream(w, r)
				return true
			}
			node := f.node("n0", "/redfish/v1/Systems/437XR1138R2")
			pool := newTestPool(t, []inventory.Node{node}, testOptions())
			_, err = pool.PowerState(context.Background(), "n0")
			require.NoError(t, err)
			var why string
			require.Eventually(t, func() bool {
				_, why = pool.Watch("n0")
				return why != ""
			}, eventually, time.Millisecond)
			assert.Contains(t, why, tt.want)
			assert.NotContains(t, why, fixturePassword)
			assert.Zero(t, foreignRequests.Load(), "nothing went to the foreign origin")
		})
	}
}
