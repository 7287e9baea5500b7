package bmc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
)

var _ engine.BMC = (*Pool)(nil)

// testOptions keep retries fast: back-off in milliseconds, not seconds.
func testOptions() Options {
	return Options{RetryBackoff: time.Millisecond, RequestTimeout: 5 * time.Second}
}

// errOf is the error of a Reset, for tests that do not look at the type sent.
func errOf(_ string, err error) error { return err }

func newTestPool(t *testing.T, nodes []inventory.Node, opts Options) *Pool {
	t.Helper()
	pool := NewPool(nodes, opts)
	t.Cleanup(func() { _ = pool.Close(context.Background()) })
	return pool
}

func TestResetChoosesTypePerVendor(t *testing.T) {
	unknownAllowed := map[string]any{"target": "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset"}
	tests := []struct {
		name           string
		vendor         string
		system         string
		action         power.Action
		prepare        func(f *fixtureBMC)
		endpointSuffix string
		want           string // "<system key> <ResetType>" of the last reset the BMC received
		wantErr        error
	}{
		{name: "dmtf graceful", vendor: "dmtf", action: power.GracefulOff, want: "Systems/437XR1138R2 GracefulShutdown"},
		{name: "dmtf force", vendor: "dmtf", action: power.ForceOff, want: "Systems/437XR1138R2 ForceOff"},
		{name: "dmtf on", vendor: "dmtf", action: power.PowerOn, want: "Systems/437XR1138R2 On"},
		{name: "ilo trailing slashes", vendor: "ilo", action: power.GracefulOff, want: "Systems/1 GracefulShutdown"},
		{name: "ilo system path without slash", vendor: "ilo", system: "/redfish/v1/Systems/1", action: power.PowerOn, want: "Systems/1 On"},
		{name: "cray ex force via ActionInfo", vendor: "cray-ex", system: "/redfish/v1/Systems/Node0", action: power.ForceOff, want: "Systems/Node0 ForceOff"},
		{name: "cray ex bare id", vendor: "cray-ex", system: "Node1", action: power.PowerOn, want: "Systems/Node1 On"},
		{name: "cray ex graceful is its non-standard Off", vendor: "cray-ex", system: "Node0", action: power.GracefulOff, want: "Systems/Node0 Off"},
		{
			name: "Off is no forced power-off", vendor: "cray-ex", system: "Node0", action: power.ForceOff,
			prepare: func(f *fixtureBMC) {
				f.set("Systems/Node0/ResetActionInfo", "Parameters", []map[string]any{
					{"Name": "ResetType", "DataType": "String", "AllowableValues": []string{"On", "Off"}},
				})
			},
			wantErr: ErrResetUnsupported,
		},
		{name: "endpoint given as service root URL", vendor: "openbmc", endpointSuffix: "/redfish/v1/", action: power.ForceOff, want: "Systems/system ForceOff"},
		{name: "gigabyte Self via ActionInfo", vendor: "gigabyte", action: power.GracefulOff, want: "Systems/Self GracefulShutdown"},
		{name: "openbmc system", vendor: "openbmc", action: power.PowerOn, want: "Systems/system On"},
		{
			name: "the power button is never pressed", vendor: "dmtf", action: power.GracefulOff,
			prepare: func(f *fixtureBMC) {
				f.setResetAction("Systems/437XR1138R2", map[string]any{
					"target":                            "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset",
					"ResetType@Redfish.AllowableValues": []string{"On", "PushPowerButton"},
				})
			},
			wantErr: ErrResetUnsupported,
		},
		{
			name: "ForceOn when On is not offered", vendor: "dmtf", action: power.PowerOn,
			prepare: func(f *fixtureBMC) {
				f.setResetAction("Systems/437XR1138R2", map[string]any{
					"target":                            "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset",
					"ResetType@Redfish.AllowableValues": []string{"ForceOn", "ForceOff"},
				})
			},
			want: "Systems/437XR1138R2 ForceOn",
		},
		{
			name: "allowed unknown: first preference", vendor: "dmtf", action: power.ForceOff,
			prepare: func(f *fixtureBMC) { f.setResetAction("Systems/437XR1138R2", unknownAllowed) },
			want:    "Systems/437XR1138R2 ForceOff",
		},
		{
			name: "ActionInfo missing: treated as unknown", vendor: "gigabyte", action: power.PowerOn,
			prepare: func(f *fixtureBMC) {
				f.mu.Lock()
				delete(f.resources, "Systems/Self/ResetActionInfo")
				f.mu.Unlock()
			},
			want: "Systems/Self On",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, tt.vendor)
			if tt.prepare != nil {
				tt.prepare(f)
			}
			node := f.node("n1", tt.system)
			node.BMC.Endpoint += tt.endpointSuffix
			pool := newTestPool(t, []inventory.Node{node}, testOptions())
			why, err := pool.WhyNoReset(context.Background(), "n1", tt.action)
			require.NoError(t, err)
			resetType, err := pool.Reset(context.Background(), "n1", tt.action)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Empty(t, f.receivedResets(), "no reset may be sent when none fits")
				assert.Equal(t, reason.Of(err), why, "WhyNoReset says so beforehand")
				return
			}
			require.NoError(t, err)
			assert.Empty(t, why)
			resets := f.receivedResets()
			require.NotEmpty(t, resets)
			assert.Equal(t, tt.want, resets[len(resets)-1])
			assert.Equal(t, strings.Fields(tt.want)[1], resetType, "Reset reports the type it sent")
		})
	}
}

// TestResetTypesFromActionInfo: where a BMC lists the allowed reset types
// only in an ActionInfo, a failure to read it that may pass is an error, and
// any other leaves the types to be tried in turn; a BMC that lists none
// inline and has no ActionInfo allows none.
func TestResetTypesFromActionInfo(t *testing.T) {
	const actionInfo = "Systems/Self/ResetActionInfo"
	tests := []struct {
		name      string
		prepare   func(f *fixtureBMC)
		wantReset string // the one reset type sent; "" means none
		wantErr   string
	}{
		{name: "ActionInfo answers 503", prepare: func(f *fixtureBMC) { f.failGets = map[string]int{actionInfo: http.StatusServiceUnavailable} },
			wantErr: "HTTP 503"},
		{name: "ActionInfo answers 500", prepare: func(f *fixtureBMC) { f.failGets = map[string]int{actionInfo: http.StatusInternalServerError} },
			wantErr: "HTTP 500"},
		{name: "ActionInfo without a ResetType parameter", prepare: func(f *fixtureBMC) { f.set(actionInfo, "Parameters", []any{}) },
			wantReset: "ForceOff"},
		{name: "ActionInfo is not JSON", prepare: func(f *fixtureBMC) {
			f.mu.Lock()
			f.resources[actionInfo] = json.RawMessage("<html>")
			f.mu.Unlock()
		}, wantReset: "ForceOff"},
		{name: "ActionInfo allows Off only", prepare: func(f *fixtureBMC) {
			f.set(actionInfo, "Parameters", []map[string]any{{"Name": "ResetType", "DataType": "String", "AllowableValues": []string{"On", "Off"}}})
		}, wantErr: "wanted one of ForceOff, BMC offers On, Off"},
		{name: "empty inline list, no ActionInfo", prepare: func(f *fixtureBMC) {
			f.setResetAction("Systems/Self", map[string]any{
				"target":                            "/redfish/v1/Systems/Self/Actions/ComputerSystem.Reset",
				"ResetType@Redfish.AllowableValues": []string{},
			})
		}, wantErr: "BMC offers none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, "gigabyte")
			tt.prepare(f)
			pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
			_, err := pool.Reset(context.Background(), "n1", power.ForceOff)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Empty(t, f.receivedResets())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{"Systems/Self " + tt.wantReset}, f.receivedResets())
		})
	}
}

func TestResetPostsToTheAdvertisedTarget(t *testing.T) {
	f := newFixtureBMC(t, "ilo")
	pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
	require.NoError(t, errOf(pool.Reset(context.Background(), "n1", power.ForceOff)))
	assert.Equal(t, []string{"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset/"}, f.resetPaths)
}

func TestResetAcceptsSuccessAnswers(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFixtureBMC(t, "dmtf")
			f.answerReset = func(string, int) resetAnswer { return resetAnswer{status: status, body: "{}"} }
			pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
			require.NoError(t, errOf(pool.Reset(context.Background(), "n1", power.PowerOn)))
			assert.Len(t, f.receivedResets(), 1)
		})
	}
}

func TestResetRetriesAndFallsBack(t *testing.T) {
	busy := resetAnswer{status: http.StatusConflict, body: redfishErrorBody("Base.1.8.ResourceInUse", "The change could not be made because the resource was in use.")}
	unavailable := resetAnswer{status: http.StatusServiceUnavailable, body: redfishErrorBody("Base.1.8.ServiceTemporarilyUnavailable", "The service is temporarily unavailable.")}
	notInList := resetAnswer{status: http.StatusBadRequest, body: redfishErrorBody("Base.1.8.ActionParameterValueNotInList", "The value ForceOff for the parameter ResetType is not in the list of acceptable values.")}
	tests := []struct {
		name        string
		answer      func(resetType string, n int) resetAnswer
		unknown     bool // strip the allowed values so types are tried in turn
		action      power.Action
		wantResets  []string
		wantRetries int64
		wantErr     []string // fragments of the error text; nil means success
	}{
		{
			name: "409 twice then accepted",
			answer: func(_ string, n int) resetAnswer {
				if n <= 2 {
					return busy
				}
				return resetAnswer{status: http.StatusNoContent}
			},
			action:      power.PowerOn,
			wantResets:  []string{"On", "On", "On"},
			wantRetries: 2,
		},
		{
			name:        "503 until retries run out",
			answer:      func(string, int) resetAnswer { return unavailable },
			action:      power.PowerOn,
			wantResets:  []string{"On", "On", "On", "On"},
			wantRetries: 3,
			wantErr:     []string{"node n1 (bmc ", "): reset on: reset type On: HTTP 503 Service Unavailable: The service is temporarily unavailable. (Base.1.8.ServiceTemporarilyUnavailable)"},
		},
		{
			name: "400 unsupported type: next preference",
			answer: func(resetType string, _ int) resetAnswer {
				if resetType == "GracefulShutdown" {
					return notInList
				}
				return resetAnswer{status: http.StatusNoContent}
			},
			unknown:    true,
			action:     power.GracefulOff,
			wantResets: []string{"GracefulShutdown", "Off"},
		},
		{
			name:       "501 for every type",
			answer:     func(string, int) resetAnswer { return resetAnswer{status: http.StatusNotImplemented} },
			unknown:    true,
			action:     power.PowerOn,
			wantResets: []string{"On", "ForceOn"},
			wantErr:    []string{"node n1 (bmc ", "): reset on: reset type ForceOn: HTTP 501 Not Implemented"},
		},
		{
			name: "403 with an HTML page reads plainly and is not retried",
			answer: func(string, int) resetAnswer {
				return resetAnswer{status: http.StatusForbidden, body: "<html>\n<b>Forbidden</b></html>"}
			},
			action:     power.PowerOn,
			wantResets: []string{"On"},
			wantErr:    []string{"HTTP 403 Forbidden: <html> <b>Forbidden</b></html>"},
		},
		{
			name: "a hostile message is bounded and shows no terminal escape",
			answer: func(string, int) resetAnswer {
				return resetAnswer{status: http.StatusForbidden, body: "\x1b]0;owned\x07\x1b[2J" + strings.Repeat("é", 300)}
			},
			action:     power.PowerOn,
			wantResets: []string{"On"},
			wantErr:    []string{"HTTP 403 Forbidden: ?]0;owned??[2J" + strings.Repeat("é", 93) + "…"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, "dmtf")
			if tt.unknown {
				f.setResetAction("Systems/437XR1138R2", map[string]any{"target": "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset"})
			}
			f.answerReset = tt.answer
			pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
			_, err := pool.Reset(context.Background(), "n1", tt.action)
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				for _, fragment := range tt.wantErr {
					assert.Contains(t, err.Error(), fragment)
				}
				assert.NotContains(t, err.Error(), "{", "error text must not be a JSON blob")
				assert.NotContains(t, err.Error(), "\x1b")
			}
			var types []string
			for _, reset := range f.receivedResets() {
				types = append(types, strings.Fields(reset)[1])
			}
			assert.Equal(t, tt.wantResets, types)
			assert.Equal(t, tt.wantRetries, pool.Stats().Retries)
		})
	}
}

// TestResetWhoseAnswerIsLost: a reset that may have reached the BMC (its
// answer timed out, or the connection closed without one) is never sent
// again blindly. The node's power state decides: the reset's effect there
// means it was carried out and Reset succeeds; otherwise it is still
// needed and sent again, within the retry budget.
func TestResetWhoseAnswerIsLost(t *testing.T) {
	const system = "Systems/437XR1138R2"
	timedOut, dropped := resetAnswer{hang: true}, resetAnswer{drop: true}
	tests := []struct {
		name    string
		allowed []string
		action  power.Action
		initial string // the node's PowerState before the reset
		lose    resetAnswer
		lost    int // how many answers, first ones first, are lost
		// carryOut is the PowerState the BMC moves to on a lost reset; ""
		// means it does nothing.
		carryOut   string
		unreadable bool // once an answer is lost, the system cannot be read
		wantSends  int
		wantErr    string
	}{
		{name: "ForceOff timed out but carried out", allowed: []string{"ForceOff"}, action: power.ForceOff, initial: "On",
			lose: timedOut, lost: 4, carryOut: "Off", wantSends: 1},
		{name: "GracefulShutdown dropped but carried out", allowed: []string{"GracefulShutdown"}, action: power.GracefulOff, initial: "On",
			lose: dropped, lost: 4, carryOut: "PoweringOff", wantSends: 1},
		{name: "On dropped but carried out", allowed: []string{"On"}, action: power.PowerOn, initial: "Off",
			lose: dropped, lost: 4, carryOut: "PoweringOn", wantSends: 1},
		{name: "Cray EX Off dropped but carried out", allowed: []string{"Off"}, action: power.GracefulOff, initial: "On",
			lose: dropped, lost: 4, carryOut: "PoweringOff", wantSends: 1},
		{name: "ForceOff dropped and not carried out is sent again", allowed: []string{"ForceOff"}, action: power.ForceOff, initial: "On",
			lose: dropped, lost: 1, wantSends: 2},
		{name: "Cray EX Off never carried out: sent again after each read until retries run out", allowed: []string{"Off"},
			action: power.GracefulOff, initial: "On", lose: timedOut, lost: 4, wantSends: 4, wantErr: "BMC gave no answer within 100ms (4 attempts)"},
		{name: "power state unreadable after the loss: not sent again", allowed: []string{"ForceOff"}, action: power.ForceOff, initial: "On",
			lose: dropped, lost: 4, unreadable: true, wantSends: 1, wantErr: "not sent again, as whether the BMC carried it out could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, "dmtf")
			f.setResetAction(system, map[string]any{
				"target":                            "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset",
				"ResetType@Redfish.AllowableValues": tt.allowed,
			})
			f.set(system, "PowerState", tt.initial)
			f.answerReset = func(_ string, n int) resetAnswer {
				if n > tt.lost {
					return resetAnswer{status: http.StatusNoContent}
				}
				if tt.carryOut != "" {
					f.set(system, "PowerState", tt.carryOut)
				}
				if tt.unreadable {
					f.mu.Lock()
					f.failGets = map[string]int{system: http.StatusInternalServerError}
					f.mu.Unlock()
				}
				return tt.lose
			}
			pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
			// Connect with the normal timeout, then make a held answer time out.
			_, err := pool.PowerState(context.Background(), "n1")
			require.NoError(t, err)
			shortenRequestTimeout(pool, 100*time.Millisecond)

			_, err = pool.Reset(context.Background(), "n1", tt.action)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			}
			assert.Len(t, f.receivedResets(), tt.wantSends)
		})
	}
}

func TestResetRemembersUnsupportedTypes(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	f.setResetAction("Systems/437XR1138R2", map[string]any{"target": "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset"})
	f.answerReset = func(resetType string, _ int) resetAnswer {
		if resetType == "GracefulShutdown" {
			return resetAnswer{status: http.StatusBadRequest, body: redfishErrorBody("Base.1.8.ActionParameterValueNotInList", "not in list")}
		}
		return resetAnswer{status: http.StatusNoContent}
	}
	pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
	require.NoError(t, errOf(pool.Reset(context.Background(), "n1", power.GracefulOff)))
	require.NoError(t, errOf(pool.Reset(context.Background(), "n1", power.GracefulOff)))
	assert.Equal(t, []string{
		"Systems/437XR1138R2 GracefulShutdown", "Systems/437XR1138R2 Off", "Systems/437XR1138R2 Off",
	}, f.receivedResets())
}

func TestResetAfterEveryTypeWasRefused(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	f.setResetAction("Systems/437XR1138R2", map[string]any{"target": "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset"})
	f.answerReset = func(string, int) resetAnswer { return resetAnswer{status: http.StatusNotImplemented} }
	pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
	require.Error(t, errOf(pool.Reset(context.Background(), "n1", power.GracefulOff)))
	sent := len(f.receivedResets())

	_, err := pool.Reset(context.Background(), "n1", power.GracefulOff)
	require.ErrorIs(t, err, ErrResetUnsupported)
	assert.Contains(t, err.Error(), "wanted one of GracefulShutdown, Off, BMC refused each of them as unsupported")
	assert.Len(t, f.receivedResets(), sent, "refused types are not tried again")
}

func TestPowerStateMapping(t *testing.T) {
	tests := []struct {
		value any
		want  power.State
	}{
		{"On", power.On},
		{"Off", power.Off},
		{"PoweringOn", power.PoweringOn},
		{"PoweringOff", power.PoweringOff},
		{"Unknown", power.Unknown},
		{"Paused", power.Unknown},
		{"", power.Unknown},
		{nil, power.Unknown},
		{deleteField, power.Unknown},
	}
	f := newFixtureBMC(t, "ilo")
	pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.value), func(t *testing.T) {
			f.set("Systems/1", "PowerState", tt.value)
			state, err := pool.PowerState(context.Background(), "n1")
			require.NoError(t, err)
			assert.Equal(t, tt.want, state)
		})
	}
}

func TestOneLoginPerBMCUnderConcurrency(t *testing.T) {
	f := newFixtureBMC(t, "cray-ex")
	f.block = make(chan struct{})
	nodes := []inventory.Node{f.node("x1000c0s0b0n0", "/redfish/v1/Systems/Node0"), f.node("x1000c0s0b0n1", "/redfish/v1/Systems/Node1")}
	pool := newTestPool(t, nodes, testOptions())

	const callers = 40
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			node := nodes[i%2].Name
			if i%4 < 2 {
				_, err := pool.PowerState(context.Background(), node)
				errs <- err
				return
			}
			errs <- errOf(pool.Reset(context.Background(), node, power.ForceOff))
		})
	}
	// The fixture holds every system read. Once two are held, give any
	// request that escapes the per-BMC bound a moment to show up (a bound
	// that holds cannot fail this), then let them all through.
	require.Eventually(t, func() bool { return f.inFlightNow() >= defaultMaxRequestsPerBMC }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	close(f.block)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	logins, _, active := f.counts()
	assert.Equal(t, 1, logins)
	assert.Equal(t, 1, active)
	assert.Equal(t, int64(1), pool.Stats().Logins)
	assert.LessOrEqual(t, f.maxFlight, defaultMaxRequestsPerBMC, "in-flight requests per BMC must stay bounded")
	assert.Len(t, f.receivedResets(), callers/2)
}

func TestCloseLogsOutEverySession(t *testing.T) {
	for _, cancelled := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancelled=%v", cancelled), func(t *testing.T) {
			vendors := []string{"dmtf", "ilo", "gigabyte"}
			var (
				bmcs  []*fixtureBMC
				nodes []inventory.Node
			)
			for i, vendor := range vendors {
				f := newFixtureBMC(t, vendor)
				bmcs = append(bmcs, f)
				nodes = append(nodes, f.node(fmt.Sprintf("n%d", i), ""))
			}
			pool := NewPool(nodes, testOptions())
			for _, node := range nodes {
				_, err := pool.PowerState(context.Background(), node.Name)
				require.NoError(t, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if cancelled {
				cancel()
			}
			defer cancel()
			require.NoError(t, pool.Close(ctx))
			require.NoError(t, pool.Close(ctx), "Close is idempotent")
			for i, f := range bmcs {
				logins, logouts, active := f.counts()
				assert.Equal(t, 1, logins, vendors[i])
				assert.Equal(t, 1, logouts, vendors[i])
				assert.Zero(t, active, vendors[i])
			}
			assert.Equal(t, int64(len(vendors)), pool.Stats().Logouts)
			_, err := pool.PowerState(context.Background(), "n0")
			assert.ErrorIs(t, err, ErrClosed)
		})
	}
}

func TestSessionWithoutLocationIsStillLoggedOut(t *testing.T) {
	f := newFixtureBMC(t, "openbmc")
	f.noLocation = true
	pool := NewPool([]inventory.Node{f.node("n1", "")}, testOptions())
	_, err := pool.PowerState(context.Background(), "n1")
	require.NoError(t, err)
	require.NoError(t, pool.Close(context.Background()))
	_, logouts, active := f.counts()
	assert.Equal(t, 1, logouts)
	assert.Zero(t, active)
}

func TestLogoutResendsOnceOnAClosedConnection(t *testing.T) {
	tests := []struct {
		name         string
		dropped      int
		wantDeletes  int
		wantLogouts  int
		wantCloseErr bool
	}{
		{name: "first DELETE lost", dropped: 1, wantDeletes: 2, wantLogouts: 1},
		{name: "both DELETEs lost", dropped: 2, wantDeletes: 2, wantCloseErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, "dmtf")
			f.dropLogouts = tt.dropped
			pool := NewPool([]inventory.Node{f.node("n1", "")}, testOptions())
			_, err := pool.PowerState(context.Background(), "n1")
			require.NoError(t, err)
			err = pool.Close(context.Background())
			if tt.wantCloseErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "log out")
			} else {
				require.NoError(t, err)
			}
			f.mu.Lock()
			deletes := f.logoutsReceived
			f.mu.Unlock()
			assert.Equal(t, tt.wantDeletes, deletes, "DELETEs sent")
			_, logouts, _ := f.counts()
			assert.Equal(t, tt.wantLogouts, logouts)
			assert.Equal(t, int64(tt.wantLogouts), pool.Stats().Logouts)
		})
	}
}

func TestExpiredSessionLogsInAgain(t *testing.T) {
	f := newFixtureBMC(t, "gigabyte")
	pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
	_, err := pool.PowerState(context.Background(), "n1")
	require.NoError(t, err)
	f.dropSessions() // the BMC forgets the session (timeout, reboot)
	state, err := pool.PowerState(context.Background(), "n1")
	require.NoError(t, err)
	assert.Equal(t, power.On, state)
	logins, _, active := f.counts()
	assert.Equal(t, 2, logins)
	assert.Equal(t, 1, active)
}

func TestBasicAuthOpensNoSession(t *testing.T) {
	f := newFixtureBMC(t, "openbmc")
	node := f.node("n1", "")
	node.BMC.Auth = "basic"
	pool := NewPool([]inventory.Node{node}, testOptions())
	require.NoError(t, errOf(pool.Reset(context.Background(), "n1", power.PowerOn)))
	state, err := pool.PowerState(context.Background(), "n1")
	require.NoError(t, err)
	assert.Equal(t, power.Off, state)
	require.NoError(t, pool.Close(context.Background()))
	logins, logouts, _ := f.counts()
	assert.Zero(t, logins)
	assert.Zero(t, logouts)
	assert.NotEmpty(t, f.authHeader)
	assert.Equal(t, []string{"Systems/system On"}, f.receivedResets())
}

func TestErrorsNeverCarryCredentials(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	var (
		logMu sync.Mutex
		logs  []string
	)
	opts := testOptions()
	opts.Log = func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}
	wrong := f.node("n1", "")
	wrong.BMC.Password = "wrong-" + fixturePassword
	good := newFixtureBMC(t, "dmtf")
	pool := newTestPool(t, []inventory.Node{wrong, good.node("n2", "")}, opts)

	_, err := pool.Reset(context.Background(), "n1", power.PowerOn)
	require.Error(t, err)
	assert.Equal(t, "node n1 (bmc "+f.server.URL+"): reset on: wrong username or password (HTTP 401 on session login)", err.Error())
	assert.NotContains(t, err.Error(), fixturePassword)

	require.NoError(t, errOf(pool.Reset(context.Background(), "n2", power.ForceOff)))
	logMu.Lock()
	defer logMu.Unlock()
	require.NotEmpty(t, logs)
	for _, line := range logs {
		assert.NotContains(t, line, fixturePassword)
		assert.NotContains(t, line, "token-")
	}
}

func TestUnreachableBMC(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := "http://" + listener.Addr().String()
	require.NoError(t, listener.Close()) // nothing listens there now

	node := inventory.Node{Name: "n1", BMC: inventory.BMC{Endpoint: endpoint, Username: fixtureUser, Password: fixturePassword}}
	pool := newTestPool(t, []inventory.Node{node}, testOptions())
	_, err = pool.PowerState(context.Background(), "n1")
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf("node n1 (bmc %s): power state: BMC unreachable: connection refused", endpoint), err.Error())
	assert.Equal(t, "BMC unreachable: connection refused", reason.Of(err), "the reason names no BMC")
	var unreachable *UnreachableError
	assert.ErrorAs(t, err, &unreachable)
	assert.Equal(t, int64(3), pool.Stats().Retries)
	assert.Zero(t, pool.Stats().Logins)
}

func TestSystemResolutionErrors(t *testing.T) {
	tests := []struct {
		name, vendor, system, want string
	}{
		{name: "unknown id", vendor: "cray-ex", system: "Node7", want: "system Node7 not found on the BMC (it has: Node0, Node1)"},
		{name: "several systems, none named", vendor: "cray-ex", want: "the BMC has 2 systems (Node0, Node1): name the node's system in the inventory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, tt.vendor)
			pool := newTestPool(t, []inventory.Node{f.node("n1", tt.system)}, testOptions())
			_, err := pool.PowerState(context.Background(), "n1")
			require.Error(t, err)
			assert.Equal(t, "node n1 (bmc "+f.server.URL+"): power state: "+tt.want, err.Error())
			assert.Equal(t, tt.want, reason.Of(err))
			assert.Zero(t, pool.Stats().Retries, "a wrong inventory is not worth retrying")
		})
	}
}

func TestBadNodesAreReportedPerNode(t *testing.T) {
	f := newFixtureBMC(t, "cray-ex")
	other := f.node("n1", "Node1")
	other.BMC.Username = "admin"
	nodes := []inventory.Node{
		f.node("n0", "Node0"),
		other,
		{Name: "n2", BMC: inventory.BMC{Endpoint: "x3000c0s1b0"}},
		{Name: "n3", BMC: inventory.BMC{Endpoint: "https://x3000c0s1b0", CAFile: "/nonexistent/ca.pem"}},
	}
	pool := newTestPool(t, nodes, testOptions())
	tests := []struct {
		node, want, wantReason string
	}{
		{"n1", "(as node n0's): shared with another node but with different credentials",
			"shared with another node but with different credentials, auth or TLS settings; one BMC takes one set"},
		{"n2", `bmc endpoint "x3000c0s1b0": not an http:// or https:// URL`, "not an http:// or https:// URL"},
		{"n3", "node n3 (bmc https://x3000c0s1b0): reset on: read ca_file: open /nonexistent/ca.pem",
			"read ca_file: open: no such file or directory"},
		{"n9", ErrUnknownNode.Error(), ErrUnknownNode.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			_, err := pool.Reset(context.Background(), tt.node, power.PowerOn)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, tt.wantReason, reason.Of(err))
		})
	}
	state, err := pool.PowerState(context.Background(), "n0")
	require.NoError(t, err, "good nodes work beside bad ones")
	assert.Equal(t, power.On, state)
}

func TestCancellationReachesRequests(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	f.block = make(chan struct{})
	defer close(f.block)
	pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, testOptions())
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		_, err := pool.PowerState(ctx, "n1")
		result <- err
	}()
	cancel()
	err := <-result
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}
