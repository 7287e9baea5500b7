package bmc

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
	"github.com/bos-project/bos/internal/sim"
)

const simPassword = "sim-Pa55word"

// startSim runs a fleet whose simulated time passes 1000× faster.
func startSim(tb testing.TB, opts sim.Options) *sim.Fleet {
	tb.Helper()
	if opts.TimeScale == 0 {
		opts.TimeScale = 0.001
	}
	opts.Password = simPassword
	fleet, err := sim.Start(context.Background(), opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = fleet.Close() })
	return fleet
}

// simInventory is the inventory bos would read for the fleet.
func simInventory(fleet *sim.Fleet) []inventory.Node {
	infos := fleet.Nodes()
	nodes := make([]inventory.Node, len(infos))
	for i, info := range infos {
		nodes[i] = inventory.Node{Name: info.Name, BMC: inventory.BMC{
			Endpoint: info.Endpoint, System: info.System, Username: "root", Password: simPassword,
		}}
	}
	return nodes
}

func simStatus(t *testing.T, fleet *sim.Fleet, name string) sim.NodeStatus {
	t.Helper()
	status, ok := fleet.Node(name)
	require.True(t, ok, name)
	return status
}

// actionsOf lists the details of one kind of action, in order.
func actionsOf(status sim.NodeStatus, kind string) []string {
	var details []string
	for _, action := range status.Actions {
		if action.Kind == kind {
			details = append(details, action.Detail)
		}
	}
	return details
}

func waitPowerState(t *testing.T, pool *Pool, node string, want power.State) {
	t.Helper()
	require.Eventually(t, func() bool {
		state, err := pool.PowerState(context.Background(), node)
		return err == nil && state == want
	}, 5*time.Second, time.Millisecond, "%s: waiting for %s", node, want)
}

// TestDriverAgainstEveryProfile runs graceful off, forced off and power on
// against each vendor profile and reads back from the simulator which reset
// types the driver chose and how the BMC answered them.
func TestDriverAgainstEveryProfile(t *testing.T) {
	tests := []struct {
		profile, variant string
		// system is how the inventory names the system: the simulator's
		// path, or a variant the driver must resolve.
		system func(info sim.NodeInfo) string
		// resets are the types the BMC receives for graceful off, force
		// off and on, and Reset reports.
		resets []string
		status int // the profile's answer to a reset
	}{
		{"dmtf", "", nil, []string{"GracefulShutdown", "ForceOff", "On"}, http.StatusNoContent},
		{"ilo", "", nil, []string{"GracefulShutdown", "ForceOff", "On"}, http.StatusOK},
		{"ilo", "system with trailing slash", func(info sim.NodeInfo) string { return info.System + "/" }, []string{"GracefulShutdown", "ForceOff", "On"}, http.StatusOK},
		{"ilo", "bare system id", func(sim.NodeInfo) string { return "1" }, []string{"GracefulShutdown", "ForceOff", "On"}, http.StatusOK},
		// Cray EX's graceful shutdown is its non-standard Off.
		{"cray-ex", "", nil, []string{"Off", "ForceOff", "On"}, http.StatusAccepted},
		{"cray-ex", "only system", func(sim.NodeInfo) string { return "" }, []string{"Off", "ForceOff", "On"}, http.StatusAccepted},
		{"gigabyte", "", nil, []string{"GracefulShutdown", "ForceOff", "On"}, http.StatusNoContent},
		{"openbmc", "", nil, []string{"GracefulShutdown", "ForceOff", "On"}, http.StatusNoContent},
		{"intel", "", nil, []string{"GracefulShutdown", "ForceOff", "On"}, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.profile+" "+tt.variant, func(t *testing.T) {
			fleet := startSim(t, sim.Options{Nodes: 1, Profile: tt.profile})
			nodes := simInventory(fleet)
			name := nodes[0].Name
			if tt.system != nil {
				nodes[0].BMC.System = tt.system(fleet.Nodes()[0])
			}
			require.NoError(t, fleet.SetPower(name, "On"))
			pool := NewPool(nodes, testOptions())
			ctx := context.Background()

			waitPowerState(t, pool, name, power.On)
			var reported []string
			for _, action := range []power.Action{power.GracefulOff, power.ForceOff, power.PowerOn} {
				resetType, err := pool.Reset(ctx, name, action)
				require.NoError(t, err, action)
				reported = append(reported, resetType)
				if action == power.ForceOff {
					waitPowerState(t, pool, name, power.Off)
				}
			}
			waitPowerState(t, pool, name, power.On)
			require.NoError(t, pool.Close(ctx))

			status := simStatus(t, fleet, name)
			assert.Equal(t, tt.resets, actionsOf(status, "Reset"), "the BMC received only the types needed")
			assert.Equal(t, tt.resets, reported, "Reset reports the types it sent")
			for _, action := range status.Actions {
				if action.Kind == "Reset" {
					assert.Equal(t, tt.status, action.Status, action.Detail)
				}
			}
			assert.Len(t, actionsOf(status, "Login"), 1, "one session for the whole run")
			assert.Len(t, actionsOf(status, "Logout"), 1)
			assert.Zero(t, status.ActiveSessions, "logged out, whether or not login named the session in Location")
		})
	}
}

// TestConnectingCostsThreeRequests: the first read of a node is the
// service root (read once, though gofish and bos both need it), the login
// and the system; every later read is one request. That first read also
// tells where the reset action is and, unless the BMC lists the allowed
// types only in an ActionInfo, what it allows: the first reset then costs
// its POST alone, or the ActionInfo and the POST; later ones their POST.
// A boot override needs no fresh read before its PATCH either.
func TestConnectingCostsThreeRequests(t *testing.T) {
	tests := []struct {
		profile            string
		firstResetRequests int64
		// bootOverrideRequests: the PATCH and its read-back; none where
		// the first read showed the system cannot take an override.
		bootOverrideRequests int64
	}{
		{"dmtf", 1, 2},
		{"ilo", 1, 2},
		{"intel", 1, 2},
		{"cray-ex", 2, 0},
		{"gigabyte", 2, 2},
		{"openbmc", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			fleet := startSim(t, sim.Options{Nodes: 1, Profile: tt.profile})
			nodes := simInventory(fleet)
			name := nodes[0].Name
			require.NoError(t, fleet.SetPower(name, "On"))
			// The event stream's requests are counted in TestEventStream.
			opts := testOptions()
			opts.DisableEvents = true
			pool := newTestPool(t, nodes, opts)
			ctx := context.Background()
			_, err := pool.PowerState(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, Stats{Requests: 3, Logins: 1, Connections: 1}, pool.Stats())
			_, err = pool.PowerState(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, Stats{Requests: 4, Logins: 1, Connections: 1}, pool.Stats(), "one connection kept alive")

			require.NoError(t, errOf(pool.Reset(ctx, name, power.ForceOff)))
			assert.Equal(t, 4+tt.firstResetRequests, pool.Stats().Requests, "first reset")
			waitPowerState(t, pool, name, power.Off)
			before := pool.Stats().Requests
			_, err = pool.SetBootOverride(ctx, name, BootOverride{Target: BootTargetPxe, Once: true})
			if tt.bootOverrideRequests == 0 {
				require.ErrorIs(t, err, ErrBootOverrideUnsupported)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, before+tt.bootOverrideRequests, pool.Stats().Requests, "boot override")
			before = pool.Stats().Requests
			require.NoError(t, errOf(pool.Reset(ctx, name, power.PowerOn)))
			assert.Equal(t, before+1, pool.Stats().Requests, "a later reset is its POST alone")
			assert.Equal(t, []string{"ForceOff", "On"}, actionsOf(simStatus(t, fleet, name), "Reset"))
		})
	}
}

// TestPoolTLSSettings: the inventory's ca_file and insecure decide which
// BMC certificates are trusted; by default, none the system does not know.
func TestPoolTLSSettings(t *testing.T) {
	fleet := startSim(t, sim.Options{Nodes: 1, TLS: true})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, fleet.CACertPEM(), 0o600))
	tests := []struct {
		name     string
		caFile   string
		insecure bool
		wantErr  string
	}{
		{name: "CA from ca_file", caFile: caFile},
		{name: "insecure by choice", insecure: true},
		{name: "unknown CA refused", wantErr: "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := simInventory(fleet)
			require.True(t, strings.HasPrefix(nodes[0].BMC.Endpoint, "https://"), nodes[0].BMC.Endpoint)
			nodes[0].BMC.CAFile, nodes[0].BMC.Insecure = tt.caFile, tt.insecure
			pool := newTestPool(t, nodes, testOptions())
			_, err := pool.PowerState(context.Background(), nodes[0].Name)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

// TestTransitionsAreNotYet: every in-between state the simulator reports
// maps to a state the engine keeps polling on.
func TestTransitionsAreNotYet(t *testing.T) {
	// Simulated transitions that last an hour, to read them at leisure.
	slow := sim.Timing{PowerOff: time.Hour, PowerOn: time.Hour, GracefulShutdown: time.Hour, BootToOS: time.Hour}
	tests := []struct {
		name   string
		opts   sim.Options
		action power.Action
		reads  []power.State
	}{
		{"powering off", sim.Options{Timing: slow, TimeScale: 1}, power.ForceOff, []power.State{power.PoweringOff}},
		{"graceful shutdown in progress", sim.Options{Timing: slow, TimeScale: 1}, power.GracefulOff, []power.State{power.PoweringOff}},
		{"stuck powering on", sim.Options{Profile: "openbmc", Faults: []sim.Fault{{Kind: sim.FaultStuckPoweringOn, Fraction: 1}}}, power.PowerOn,
			[]power.State{power.PoweringOn, power.PoweringOn}},
		{"null then Unknown after a reset (HPE)", sim.Options{Profile: "ilo", Timing: slow, TimeScale: 1, Faults: []sim.Fault{{Kind: sim.FaultTransientUnknown, Fraction: 1}}},
			power.ForceOff, []power.State{power.Unknown, power.Unknown, power.PoweringOff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Nodes = 1
			fleet := startSim(t, tt.opts)
			nodes := simInventory(fleet)
			pool := newTestPool(t, nodes, testOptions())
			ctx := context.Background()
			require.NoError(t, errOf(pool.Reset(ctx, nodes[0].Name, tt.action)))
			for i, want := range tt.reads {
				state, err := pool.PowerState(ctx, nodes[0].Name)
				require.NoError(t, err, "read %d", i)
				assert.Equal(t, want, state, "read %d", i)
			}
		})
	}
}

// TestPowerOnRefusedAfterOffIsRetried: a BMC that answers 409 to On for a
// while after Off (iDRAC) gets the same On again until it takes it.
func TestPowerOnRefusedAfterOffIsRetried(t *testing.T) {
	// The refusal lasts 60 simulated seconds: 30 ms here; the driver's
	// back-off (10, 20, 40, 80 ms) outlasts it.
	fleet := startSim(t, sim.Options{Nodes: 1, TimeScale: 0.0005, Faults: []sim.Fault{{Kind: sim.FaultConflictAfterOff, Fraction: 1}}})
	nodes := simInventory(fleet)
	name := nodes[0].Name
	opts := testOptions()
	opts.RetryBackoff, opts.Retries = 10*time.Millisecond, 4
	pool := newTestPool(t, nodes, opts)
	ctx := context.Background()

	require.NoError(t, errOf(pool.Reset(ctx, name, power.ForceOff)))
	waitPowerState(t, pool, name, power.Off)
	require.NoError(t, errOf(pool.Reset(ctx, name, power.PowerOn)))
	waitPowerState(t, pool, name, power.On)

	var onAnswers []int
	for _, action := range simStatus(t, fleet, name).Actions {
		if action.Kind == "Reset" && action.Detail == "On" {
			onAnswers = append(onAnswers, action.Status)
		}
	}
	require.GreaterOrEqual(t, len(onAnswers), 2, "On was refused at least once: %v", onAnswers)
	assert.Equal(t, http.StatusConflict, onAnswers[0])
	assert.Equal(t, http.StatusNoContent, onAnswers[len(onAnswers)-1])
	assert.Positive(t, pool.Stats().Retries)
}

// TestSessionsNeverOutliveThePool: whatever happened, once the Pool is
// closed no BMC holds a session of it.
func TestSessionsNeverOutliveThePool(t *testing.T) {
	tests := []struct {
		name string
		opts sim.Options
		// use drives the pool and returns its error, nil when it should
		// have gone well.
		use     func(ctx context.Context, fleet *sim.Fleet, pool *Pool, node string) error
		wantErr string
		// loginInFlight: the BMC may still be processing a login when Close
		// returns; wait for it before counting sessions.
		loginInFlight bool
	}{
		{"after success", sim.Options{}, func(ctx context.Context, _ *sim.Fleet, pool *Pool, node string) error {
			_, err := pool.PowerState(ctx, node)
			return err
		}, "", false},
		{"after a refused reset", sim.Options{Profile: "openbmc", Faults: []sim.Fault{{Kind: sim.FaultStuckPoweringOn, Fraction: 1}}},
			func(ctx context.Context, _ *sim.Fleet, pool *Pool, node string) error {
				if _, err := pool.Reset(ctx, node, power.PowerOn); err != nil {
					return err
				}
				// Stuck powering on, the BMC refuses the next one as busy.
				return errOf(pool.Reset(ctx, node, power.PowerOn))
			}, "HTTP 409", false},
		{"after 5xx", sim.Options{Faults: []sim.Fault{{Kind: sim.Fault5xx, Fraction: 1}}}, func(ctx context.Context, _ *sim.Fleet, pool *Pool, node string) error {
			_, err := pool.PowerState(ctx, node)
			return err
		}, "HTTP 503", false},
		{"after a refused login", sim.Options{Faults: []sim.Fault{{Kind: sim.FaultWrongCredentials, Fraction: 1}}}, func(ctx context.Context, _ *sim.Fleet, pool *Pool, node string) error {
			_, err := pool.PowerState(ctx, node)
			return err
		}, "HTTP 401", false},
		{"after cancellation mid-request", sim.Options{TimeScale: 1, Timing: sim.Timing{RequestLatency: 50 * time.Millisecond, PowerOn: time.Second}},
			func(ctx context.Context, _ *sim.Fleet, pool *Pool, node string) error {
				if _, err := pool.PowerState(ctx, node); err != nil {
					return err
				}
				// The next read takes 50 ms at the BMC; cancel a fifth of the way in.
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				time.AfterFunc(10*time.Millisecond, cancel)
				_, err := pool.PowerState(ctx, node)
				return err
			}, "context canceled", false},
		{"after cancellation mid-login", sim.Options{TimeScale: 1, Timing: sim.Timing{RequestLatency: 50 * time.Millisecond, PowerOn: time.Second}},
			func(ctx context.Context, fleet *sim.Fleet, pool *Pool, node string) error {
				// Connecting reads the service root, then logs in (50 ms
				// each at the BMC): cancel once the login has arrived, so
				// it is at the BMC whatever the machine's load.
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				go func() {
					for ctx.Err() == nil && fleet.BMCs()[0].Requests < 2 {
						time.Sleep(time.Millisecond)
					}
					cancel()
				}()
				_, err := pool.PowerState(ctx, node)
				return err
			}, "context canceled", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Nodes = 1
			fleet := startSim(t, tt.opts)
			nodes := simInventory(fleet)
			pool := NewPool(nodes, testOptions())
			err := tt.use(context.Background(), fleet, pool, nodes[0].Name)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), simPassword)
			}
			// Close with a context that is already done, as after Ctrl-C.
			done, cancel := context.WithCancel(context.Background())
			cancel()
			require.NoError(t, pool.Close(done))
			if tt.loginInFlight {
				require.Eventually(t, func() bool {
					return len(actionsOf(simStatus(t, fleet, nodes[0].Name), "Login")) > 0
				}, 5*time.Second, 5*time.Millisecond, "the BMC never saw the login")
			}
			status := simStatus(t, fleet, nodes[0].Name)
			assert.Zero(t, status.ActiveSessions)
			assert.Len(t, actionsOf(status, "Logout"), len(actionsOf(status, "Login"))-countFailedLogins(status))
		})
	}
}

func countFailedLogins(status sim.NodeStatus) int {
	failed := 0
	for _, action := range status.Actions {
		if action.Kind == "Login" && action.Status != http.StatusCreated {
			failed++
		}
	}
	return failed
}

// BenchmarkPowerState10000 reads the power state of 10,000 simulated BMCs
// through one Pool: every BMC gets one login, one read and one logout.
// Fleet and client share this process's open-file limit: 10,000 listeners
// plus both ends of each open connection. With the fleet keeping at most
// 4,000 connections open the benchmark needs `ulimit -n` 18,500 or so
// (10,000 + 2×4,000 + spare); the simulator closes the longest-idle
// connection past that, and the driver redials.
func BenchmarkPowerState10000(b *testing.B) {
	const nodeCount, fleetConnections = 10000, 4000
	fleet := startSim(b, sim.Options{Nodes: nodeCount, Profile: "mixed", TimeScale: 1,
		Timing: sim.Timing{PowerOn: time.Second}, MaxConnections: fleetConnections})
	nodes := simInventory(fleet)
	ctx := context.Background()
	iterations := 0
	b.ResetTimer()
	for b.Loop() {
		iterations++
		pool := NewPool(nodes, Options{RequestTimeout: 20 * time.Second, RetryBackoff: 10 * time.Millisecond})
		if err := readAll(ctx, pool, nodes); err != nil {
			b.Fatal(err)
		}
		if err := pool.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if stats := pool.Stats(); stats.Logins != nodeCount || stats.Logouts != nodeCount {
			b.Fatalf("logins %d, logouts %d: want %d each", stats.Logins, stats.Logouts, nodeCount)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iterations*nodeCount), "ns/node")
	for _, node := range nodes {
		status, _ := fleet.Node(node.Name)
		logins, logouts := len(actionsOf(status, "Login")), len(actionsOf(status, "Logout"))
		if logins != iterations || logouts != iterations || status.ActiveSessions != 0 {
			b.Fatalf("%s: %d logins, %d logouts, %d sessions open after %d runs", node.Name, logins, logouts, status.ActiveSessions, iterations)
		}
	}
}

// readAll reads every node's power state with the engine's kind of bounded
// fan-out.
func readAll(ctx context.Context, pool *Pool, nodes []inventory.Node) error {
	const workers = 500
	work := make(chan string)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			var firstErr error
			for name := range work {
				if _, err := pool.PowerState(ctx, name); err != nil && firstErr == nil {
					firstErr = err
				}
			}
			errs <- firstErr
		}()
	}
	for _, node := range nodes {
		work <- node.Name
	}
	close(work)
	var all []error
	for range workers {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// BenchmarkPoolMemory measures what a Pool holds per BMC between polls: its
// endpoint, gofish client, Redfish session and kept-alive connection, after
// every BMC has been read once. The figure includes the simulator's end of
// each connection (the same for any client), so compare it across changes
// to the driver rather than reading it as the driver's alone.
func BenchmarkPoolMemory(b *testing.B) {
	const nodeCount = 4000
	fleet := startSim(b, sim.Options{Nodes: nodeCount, Profile: "dmtf", MaxConnections: nodeCount + 500})
	nodes := simInventory(fleet)
	ctx := context.Background()
	idleGoroutines := runtime.NumGoroutine()
	var held int64
	for b.Loop() {
		before := inUse()
		pool := NewPool(nodes, Options{RequestTimeout: 20 * time.Second, RetryBackoff: 10 * time.Millisecond})
		if err := readAll(ctx, pool, nodes); err != nil {
			b.Fatal(err)
		}
		held = int64(inUse()) - int64(before)
		if err := pool.Close(ctx); err != nil {
			b.Fatal(err)
		}
		// Both ends of the closed connections wind down asynchronously;
		// the next round must not count what is left of this one.
		for runtime.NumGoroutine() > idleGoroutines {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(float64(held)/nodeCount, "B/BMC")
}

// inUse is the heap and stack memory in use after a collection.
func inUse() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapInuse + stats.StackInuse
}

// TestSilentBMCReason: a BMC that takes requests and answers none fails
// its nodes with how long bos waited and how often, the same words for
// every node behind any silent BMC, so that they group; a BMC that
// refuses connections stays "unreachable".
func TestSilentBMCReason(t *testing.T) {
	tests := []struct {
		name    string
		fault   sim.FaultKind
		retries int
		want    string
	}{
		{"silent, retried", sim.FaultSilent, 3, "BMC gave no answer within 50ms (4 attempts)"},
		{"silent, no retry", sim.FaultSilent, -1, "BMC gave no answer within 50ms (1 attempt)"},
		{"refusing", sim.FaultUnreachable, 1, "BMC unreachable: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fleet := startSim(t, sim.Options{Nodes: 2, NodesPerBMC: 1, Faults: []sim.Fault{{Kind: tt.fault, Fraction: 1}}})
			pool := newTestPool(t, simInventory(fleet), Options{RequestTimeout: 50 * time.Millisecond, Retries: tt.retries, RetryBackoff: time.Millisecond})
			var reasons []string
			for _, node := range simInventory(fleet) {
				_, err := pool.PowerState(context.Background(), node.Name)
				require.Error(t, err)
				assert.Contains(t, err.Error(), node.Name, "the error names the node for logs")
				reasons = append(reasons, reason.Of(err))
			}
			assert.Equal(t, []string{tt.want, tt.want}, reasons)
		})
	}
}

// TestNotAnswering counts the nodes whose requests wait on BMCs that have
// stopped answering: none while a BMC has not yet failed to answer in
// time, each waiting node once one has, and none again when they give up.
func TestNotAnswering(t *testing.T) {
	fleet := startSim(t, sim.Options{Nodes: 6, NodesPerBMC: 2, Faults: []sim.Fault{{Kind: sim.FaultSilent, Nodes: []string{"x3000c0s1b0n0"}}}})
	nodes := simInventory(fleet)
	pool := newTestPool(t, nodes, Options{RequestTimeout: 200 * time.Millisecond, Retries: 5, RetryBackoff: 10 * time.Millisecond})
	for _, node := range nodes[2:] {
		_, err := pool.PowerState(context.Background(), node.Name)
		require.NoError(t, err, "the other BMCs answer")
	}
	assert.Zero(t, pool.NotAnswering())

	done := make(chan error, 2)
	for _, node := range nodes[:2] { // the silent BMC's two nodes
		go func() {
			_, err := pool.PowerState(context.Background(), node.Name)
			done <- err
		}()
	}
	assert.Zero(t, pool.NotAnswering(), "not before a request has gone unanswered for the request timeout")
	require.Eventually(t, func() bool { return pool.NotAnswering() == 2 }, 5*time.Second, 5*time.Millisecond)
	for range 2 {
		require.Error(t, <-done)
	}
	assert.Zero(t, pool.NotAnswering(), "given up: waiting no more")
}
