package cmd

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// requestsPerNode is how many requests the fleet's BMCs received, per node.
func (e *testEnv) requestsPerNode() float64 {
	e.t.Helper()
	var total int64
	for _, b := range e.fleet.BMCs() {
		total += b.Requests
	}
	return float64(total) / float64(len(e.fleet.Nodes()))
}

// scalePolls sets the engine's polls to the simulator's time scale, as the
// benchmark does: 1 s and 5 s in real time.
func scalePolls(t *testing.T, scale float64) {
	t.Setenv("BOS_POLL_BASE", strconv.FormatFloat(scale, 'f', -1, 64))
	t.Setenv("BOS_POLL_INTERVAL", strconv.FormatFloat(5*scale, 'f', -1, 64))
}

// TestRebootRequestsPerNode: a reboot of a few hundred nodes at once costs
// each node a bounded number of requests, with BMC events or by polls.
// Per node: the service root, login and logout (each BMC has one node),
// the first read, the boot override's PATCH and read-back, two resets;
// with events the EventService and its stream; then the reads of the
// waits, 5 to 7 of them, where scouts read more (21 requests per node
// before issue 18).
func TestRebootRequestsPerNode(t *testing.T) {
	const scale = 0.1
	for _, tt := range []struct {
		events string
		most   float64
	}{
		{"off", 16},
		{"auto", 16},
	} {
		t.Run("events "+tt.events, func(t *testing.T) {
			env := newTestEnv(t, sim.Options{Nodes: 200, TimeScale: scale})
			scalePolls(t, scale)
			code, _, errOut := env.run("session", "create", "--template", env.template, "--operation", "reboot", "--events", tt.events)
			require.Equal(t, cmdutil.ExitOK, code, errOut)
			perNode := env.requestsPerNode()
			t.Logf("%.2f requests per node", perNode)
			assert.LessOrEqual(t, perNode, tt.most)
			streams := 0
			for _, b := range env.fleet.BMCs() {
				streams += b.SSEStreams
			}
			assert.Zero(t, streams, "every stream ended with the session")
		})
	}
}

// TestEventsWakeWaitingNodes: with polls so far apart that only events can
// wake a waiting node, a reboot goes through at the simulator's pace, each
// node reading its system once per change its BMC reported.
func TestEventsWakeWaitingNodes(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 4, NodesPerBMC: 2, TimeScale: 0.01})
	t.Setenv("BOS_POLL_BASE", "1000")
	t.Setenv("BOS_POLL_INTERVAL", "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, _, errOut := env.runCtx(ctx, "session", "create", "--template", env.template, "--operation", "reboot")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	require.NoError(t, ctx.Err())
	for _, b := range env.fleet.BMCs() {
		// Per BMC: service root, login, EventService, stream, logout. Per
		// node: the first read, PATCH and read-back, two resets, and a
		// read for each of the 5 changes of a reboot (PoweringOff, Off,
		// PoweringOn, On, OSRunning) at most.
		assert.LessOrEqual(t, b.Requests, int64(5+len(b.Nodes)*(5+5)), b.Endpoint)
		assert.Positive(t, b.SSEEvents, b.Endpoint)
	}
}

// TestPollsWhereEventsFail: a BMC without events, or whose stream drops,
// has its nodes polled, said once per BMC in session.log.
func TestPollsWhereEventsFail(t *testing.T) {
	for _, fault := range []sim.FaultKind{sim.FaultNoSSE, sim.FaultSSEDrops} {
		t.Run(string(fault), func(t *testing.T) {
			env := newTestEnv(t, sim.Options{Nodes: 4, NodesPerBMC: 2, TimeScale: 0.01,
				Faults: []sim.Fault{{Kind: fault, Fraction: 1}}})
			scalePolls(t, 0.01)
			code, id := env.createJSON("--template", env.template, "--operation", "reboot")
			require.Equal(t, cmdutil.ExitOK, code)
			log := env.sessionLog(id)
			for _, b := range env.fleet.BMCs() {
				assert.Equal(t, 1, strings.Count(log, "bmc "+b.Endpoint+": no events ("), "%s:\n%s", b.Endpoint, log)
			}
		})
	}
}
