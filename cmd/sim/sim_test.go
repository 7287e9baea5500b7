package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd"
	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/inventory"
)

// startedWriter collects `bos sim`'s stderr and says when the fleet is up.
type startedWriter struct {
	mu      sync.Mutex
	text    bytes.Buffer
	started chan struct{}
	once    sync.Once
}

func (w *startedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text.Write(p)
	if strings.Contains(w.text.String(), "running until interrupted") {
		w.once.Do(func() { close(w.started) })
	}
	return len(p), nil
}

func (w *startedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String()
}

// runSim runs `bos sim` in-process until it reports it is running, then
// interrupts it; it returns the exit code and stderr.
func runSim(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, stderr, stop := startSim(t, args...)
	if stop == nil {
		return code, stderr
	}
	return stop()
}

// startSim runs `bos sim` in-process until it reports it is running and
// returns a stop function that interrupts it and returns its exit code and
// stderr. When the command exits before it runs, stop is nil and the exit
// code and stderr are returned at once.
func startSim(t *testing.T, args ...string) (int, string, func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &startedWriter{started: make(chan struct{})}
	io := &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: stderr}
	exited := make(chan int, 1)
	go func() { exited <- cmd.Run(ctx, io, append([]string{"sim"}, args...)) }()
	select {
	case code := <-exited:
		cancel()
		return code, stderr.String(), nil
	case <-stderr.started:
	}
	stopped := false
	stop := func() (int, string) {
		t.Helper()
		stopped = true
		cancel()
		select {
		case code := <-exited:
			return code, stderr.String()
		case <-time.After(10 * time.Second):
			t.Fatalf("bos sim did not stop when interrupted: %s", stderr)
			return 0, ""
		}
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return 0, stderr.String(), stop
}

func TestNamePrefixNamesNodes(t *testing.T) {
	tests := []struct {
		prefix string
		nodes  string
		want   []string
	}{
		{prefix: "nid", nodes: "3", want: []string{"nid1", "nid2", "nid3"}},
		{prefix: "s1n", nodes: "12", want: []string{"s1n01", "s1n02", "s1n03", "s1n04", "s1n05", "s1n06",
			"s1n07", "s1n08", "s1n09", "s1n10", "s1n11", "s1n12"}},
		{prefix: "rack_2-node", nodes: "2", want: []string{"rack_2-node1", "rack_2-node2"}},
		{prefix: "", nodes: "2", want: []string{"x3000c0s1b0n0", "x3000c0s2b0n0"}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inventory.yaml")
			code, stderr := runSim(t, "--nodes", tt.nodes, "--time-scale", "0.001", "--name-prefix", tt.prefix, "--write-inventory", path)
			require.Equal(t, cmdutil.ExitOK, code, stderr)
			inv, _, err := inventory.Load(path)
			require.NoError(t, err, "the inventory bos sim wrote loads")
			var names []string
			for _, n := range inv.Nodes {
				names = append(names, n.Name)
			}
			assert.Equal(t, tt.want, names)
		})
	}
}

func TestNamePrefixRefusesInvalidNames(t *testing.T) {
	for _, prefix := range []string{"nid.", "-nid", "_nid", "n[1-2]", "a,b", "a b", "nöd"} {
		t.Run(prefix, func(t *testing.T) {
			code, stderr := runSim(t, "--nodes", "2", "--name-prefix", prefix)
			assert.Equal(t, cmdutil.ExitInvalid, code, stderr)
			assert.Contains(t, stderr, `--name-prefix "`+prefix+`": use letters, digits, '-' and '_'`)
			assert.NotContains(t, stderr, "running until interrupted", "no fleet starts with an invalid prefix")
		})
	}
}

func TestNodesPerBMC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	code, stderr := runSim(t, "--nodes", "5", "--nodes-per-bmc", "2", "--profile", "cray-ex", "--time-scale", "0.001", "--write-inventory", path)
	require.Equal(t, cmdutil.ExitOK, code, stderr)
	assert.Contains(t, stderr, "bos sim: 5 nodes (x3000c0s[1-3]b0n0,x3000c0s[1-2]b0n1) on 3 cray-ex BMCs")
	inv, _, err := inventory.Load(path)
	require.NoError(t, err, "the inventory bos sim wrote loads")
	var names, systems []string
	for _, n := range inv.Nodes {
		names, systems = append(names, n.Name), append(systems, n.BMC.System)
	}
	assert.Equal(t, []string{"x3000c0s1b0n0", "x3000c0s1b0n1", "x3000c0s2b0n0", "x3000c0s2b0n1", "x3000c0s3b0n0"}, names)
	assert.Equal(t, []string{"/redfish/v1/Systems/Node0", "/redfish/v1/Systems/Node1", "/redfish/v1/Systems/Node0",
		"/redfish/v1/Systems/Node1", "/redfish/v1/Systems/Node0"}, systems)
	assert.Equal(t, inv.Nodes[0].BMC.Endpoint, inv.Nodes[1].BMC.Endpoint, "two nodes behind one BMC")
	assert.NotEqual(t, inv.Nodes[1].BMC.Endpoint, inv.Nodes[2].BMC.Endpoint)
}

func TestNodesPerBMCRefusesLessThanOne(t *testing.T) {
	for _, perBMC := range []string{"0", "-2"} {
		t.Run(perBMC, func(t *testing.T) {
			code, stderr := runSim(t, "--nodes", "2", "--nodes-per-bmc", perBMC)
			assert.Equal(t, cmdutil.ExitInvalid, code, stderr)
			assert.Contains(t, stderr, "--nodes-per-bmc "+perBMC+": give 1 or more")
			assert.NotContains(t, stderr, "running until interrupted")
		})
	}
}

func TestFaultsRefused(t *testing.T) {
	tests := []struct{ fault, want string }{
		{"boot-progress-none", `--fault "boot-progress-none": write KIND=FRACTION`},
		{"flaky=0.1", `unknown kind "flaky": use one of unreachable, slow, 5xx,`},
		{"flaky=0.1", `no-session-service, override-persistent, override-unsupported, boot-progress-none, boot-progress-stale, busy-ignores-reset`},
		{"override-persistent=1.5", "fraction 1.5"},
		{"busy-ignores-reset=x3000c0s9b0n0", `node "x3000c0s9b0n0" is not in the fleet`},
		{"no-session-service=x3000c0s[1-", `--fault "no-session-service=x3000c0s[1-"`},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			code, stderr := runSim(t, "--nodes", "4", "--nodes-per-bmc", "2", "--fault", tt.fault)
			assert.Equal(t, cmdutil.ExitInvalid, code, stderr)
			assert.Contains(t, stderr, tt.want)
		})
	}
}

// TestFaultsReachTheirBMC: the new kinds parse, by node list and by
// fraction, and a per-BMC kind given to one node is its BMC's.
func TestFaultsReachTheirBMC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	code, stderr, stop := startSim(t, "--nodes", "4", "--nodes-per-bmc", "2", "--time-scale", "0.001", "--write-inventory", path,
		"--fault", "no-session-service=x3000c0s1b0n1", "--fault", "override-persistent=0.5", "--fault", "busy-ignores-reset=x3000c0s2b0n[0-1]",
		"--fault", "boot-progress-none=1", "--fault", "boot-progress-stale=0", "--fault", "override-unsupported=x3000c0s2b0n0")
	require.NotNil(t, stop, "exit %d: %s", code, stderr)
	inv, _, err := inventory.Load(path)
	require.NoError(t, err)
	hasSessionService := func(endpoint string) bool {
		resp, err := http.Get(endpoint + "/redfish/v1/")
		require.NoError(t, err)
		defer resp.Body.Close()
		var root map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&root))
		return root["SessionService"] != nil
	}
	assert.False(t, hasSessionService(inv.Nodes[0].BMC.Endpoint), "x3000c0s1b0n0 shares its BMC with x3000c0s1b0n1")
	assert.True(t, hasSessionService(inv.Nodes[2].BMC.Endpoint))
	code, stderr = stop()
	assert.Equal(t, cmdutil.ExitOK, code, stderr)
}

// TestEventFaultsReachTheirBMC: every BMC offers an SSE stream but those
// given no-sse (EventService without ServerSentEventUri) or
// no-event-service (no EventService); on an sse-drops BMC a stream ends
// after its first event; /bmcs counts the streams and their events.
func TestEventFaultsReachTheirBMC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	code, stderr, stop := startSim(t, "--nodes", "8", "--nodes-per-bmc", "2", "--time-scale", "0.001", "--write-inventory", path,
		"--fault", "no-sse=x3000c0s1b0n1", "--fault", "no-event-service=x3000c0s2b0n0", "--fault", "sse-drops=x3000c0s3b0n[0-1]")
	require.NotNil(t, stop, "exit %d: %s", code, stderr)
	inv, _, err := inventory.Load(path)
	require.NoError(t, err)
	password, err := os.ReadFile(path + ".password")
	require.NoError(t, err)
	request := func(ctx context.Context, method, url string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(`{"ResetType": "ForceOff"}`))
		require.NoError(t, err)
		req.SetBasicAuth("root", strings.TrimSpace(string(password)))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	get := func(url string) map[string]any {
		t.Helper()
		resp := request(t.Context(), http.MethodGet, url)
		require.Equal(t, http.StatusOK, resp.StatusCode, url)
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return body
	}
	bmc := func(i int) string { return inv.Nodes[2*i].BMC.Endpoint }

	assert.Equal(t, "/redfish/v1/EventService/SSE", get(bmc(3) + "/redfish/v1/EventService")["ServerSentEventUri"], "a BMC without faults")
	assert.NotContains(t, get(bmc(0)+"/redfish/v1/EventService"), "ServerSentEventUri", "no-sse: x3000c0s1b0n0 shares its BMC with x3000c0s1b0n1")
	assert.Equal(t, http.StatusNotFound, request(t.Context(), http.MethodGet, bmc(0)+"/redfish/v1/EventService/SSE").StatusCode)
	assert.NotContains(t, get(bmc(1)+"/redfish/v1/"), "EventService", "no-event-service")

	// Bounded: a stream that did not drop would never end.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream := request(ctx, http.MethodGet, bmc(2)+"/redfish/v1/EventService/SSE")
	require.Equal(t, http.StatusOK, stream.StatusCode)
	assert.Equal(t, "text/event-stream", stream.Header.Get("Content-Type"))
	reset := request(t.Context(), http.MethodPost, bmc(2)+inv.Nodes[4].BMC.System+"/Actions/ComputerSystem.Reset")
	require.Equal(t, http.StatusNoContent, reset.StatusCode)
	events, err := io.ReadAll(stream.Body)
	require.NoError(t, err, "sse-drops: the stream ends")
	assert.Equal(t, 1, strings.Count(string(events), "\ndata: {"), "after its first event: %s", events)
	assert.Contains(t, string(events), `"MessageId":"ResourceEvent.1.0.ResourceChanged"`)

	endpoint := regexp.MustCompile(`control endpoint (\S+)/nodes`).FindStringSubmatch(stderr)
	require.Len(t, endpoint, 2, stderr)
	var bmcs []map[string]any
	resp := request(t.Context(), http.MethodGet, endpoint[1]+"/bmcs")
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&bmcs))
	require.Len(t, bmcs, 4)
	assert.Equal(t, map[string]any{"sse_streams": float64(0), "sse_events": float64(1)},
		map[string]any{"sse_streams": bmcs[2]["sse_streams"], "sse_events": bmcs[2]["sse_events"]})
	code, stderr = stop()
	assert.Equal(t, cmdutil.ExitOK, code, stderr)
}

func TestHelpListsEveryFault(t *testing.T) {
	out := &bytes.Buffer{}
	streams := &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: &bytes.Buffer{}}
	require.Equal(t, cmdutil.ExitOK, cmd.Run(t.Context(), streams, []string{"sim", "--help"}))
	for _, kind := range []string{"no-sse", "no-event-service", "sse-drops", "no-session-service", "first-reset-hangs", "silent"} {
		assert.Contains(t, out.String(), kind)
	}
	assert.Contains(t, out.String(), "Server-Sent Events")
}
