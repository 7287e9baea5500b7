package bmc

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
	"github.com/bos-project/bos/internal/sim"
)

// withAuth sets every node's auth.
func withAuth(nodes []inventory.Node, auth string) []inventory.Node {
	for i := range nodes {
		nodes[i].BMC.Auth = auth
	}
	return nodes
}

// readAllConcurrently reads every node's power state at once and returns
// each node's error, without the "node N: power state: " every error starts
// with, so reasons can be compared across nodes.
func readAllConcurrently(pool *Pool, nodes []inventory.Node) map[string]error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = make(map[string]error, len(nodes))
	)
	for _, node := range nodes {
		wg.Go(func() {
			_, err := pool.PowerState(context.Background(), node.Name)
			mu.Lock()
			errs[node.Name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return errs
}

func reasonOf(t *testing.T, node string, err error) string {
	t.Helper()
	require.Error(t, err, node)
	assert.Contains(t, err.Error(), fmt.Sprintf("node %s (bmc ", node), "the error names the node and its BMC")
	assert.Contains(t, err.Error(), "): power state: ")
	return reason.Of(err)
}

// TestOneFailedLoginPerBMC: with a wrong password, the nodes behind one BMC
// share its single failed login, whatever the auth, however many of them
// ask at once and however often they ask again; every node gets the same
// truthful reason, without the BMC's address.
func TestOneFailedLoginPerBMC(t *testing.T) {
	tests := []struct {
		auth, reason string
	}{
		{"session", "wrong username or password (HTTP 401 on session login)"},
		{"auto", "wrong username or password (HTTP 401 on session login)"},
		{"basic", "wrong username or password (Basic auth refused)"},
	}
	for _, tt := range tests {
		t.Run(tt.auth, func(t *testing.T) {
			fleet := startSim(t, sim.Options{Nodes: 16, NodesPerBMC: 8, Profile: "cray-ex",
				Faults: []sim.Fault{{Kind: sim.FaultWrongCredentials, Fraction: 1}}})
			nodes := withAuth(simInventory(fleet), tt.auth)
			pool := NewPool(nodes, testOptions())

			for round := range 3 {
				for name, err := range readAllConcurrently(pool, nodes) {
					assert.Equal(t, tt.reason, reasonOf(t, name, err), "round %d", round)
					assert.NotContains(t, err.Error(), simPassword)
				}
			}
			_, err := pool.Reset(context.Background(), nodes[0].Name, power.PowerOn)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.reason)
			require.NoError(t, pool.Close(context.Background()))

			bmcs := fleet.BMCs()
			require.Len(t, bmcs, 2)
			for _, b := range bmcs {
				assert.Equal(t, 1, b.FailedLogins, "%s: failed logins", b.Endpoint)
				assert.Zero(t, b.Logins, b.Endpoint)
				assert.Zero(t, b.ActiveSessions, b.Endpoint)
			}
			for _, node := range nodes {
				status := simStatus(t, fleet, node.Name)
				assert.Empty(t, actionsOf(status, "Reset"), node.Name)
				if tt.auth != "basic" {
					assert.Equal(t, []string{"bad credentials"}, actionsOf(status, "Login"), "%s: the BMC's one login, seen from each node", node.Name)
				}
			}
		})
	}
}

// TestAutoUsesBasicWithoutSessionService: a BMC whose service root names no
// SessionService is used with Basic auth: no login, no logout, no request
// to the SessionService, and nothing to log out at Close.
func TestAutoUsesBasicWithoutSessionService(t *testing.T) {
	for _, auth := range []string{"", "auto"} {
		t.Run("auth="+auth, func(t *testing.T) {
			fleet := startSim(t, sim.Options{Nodes: 4, NodesPerBMC: 4, Profile: "cray-ex",
				Faults: []sim.Fault{{Kind: sim.FaultNoSessionService, Fraction: 1}}})
			nodes := withAuth(simInventory(fleet), auth)
			pool := NewPool(nodes, testOptions())
			for name, err := range readAllConcurrently(pool, nodes) {
				require.NoError(t, err, name)
			}
			_, err := pool.Reset(context.Background(), nodes[0].Name, power.ForceOff)
			require.NoError(t, err)
			require.NoError(t, pool.Close(context.Background()))

			stats := pool.Stats()
			assert.Zero(t, stats.Logins)
			assert.Zero(t, stats.Logouts)
			bmcs := fleet.BMCs()
			require.Len(t, bmcs, 1)
			assert.Zero(t, bmcs[0].Logins)
			assert.Zero(t, bmcs[0].FailedLogins)
			status := simStatus(t, fleet, nodes[0].Name)
			assert.Empty(t, actionsOf(status, "Login"))
			assert.Empty(t, actionsOf(status, "Logout"))
			assert.Equal(t, []string{"ForceOff"}, actionsOf(status, "Reset"))
		})
	}
}

// requestLog records the method and path of every request a fixture BMC
// receives, and whether it carried Basic credentials.
type requestLog struct {
	mu       sync.Mutex
	requests []string
	basic    int
}

func (l *requestLog) record(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = append(l.requests, r.Method+" "+strings.TrimRight(r.URL.Path, "/"))
	if _, _, ok := r.BasicAuth(); ok {
		l.basic++
	}
}

func (l *requestLog) count(methodAndPath string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, request := range l.requests {
		if request == methodAndPath {
			n++
		}
	}
	return n
}

func (l *requestLog) countPrefix(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, request := range l.requests {
		if strings.HasPrefix(request, prefix) {
			n++
		}
	}
	return n
}

func (l *requestLog) basicRequests() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.basic
}

// logRequests makes f record every request; answer, when not nil, answers
// those it returns true for.
func logRequests(f *fixtureBMC, answer func(w http.ResponseWriter, r *http.Request) bool) *requestLog {
	log := &requestLog{}
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		log.record(r)
		return answer != nil && answer(w, r)
	}
	return log
}

const loginPath = "/redfish/v1/SessionService/Sessions"

func isLogin(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.TrimRight(r.URL.Path, "/") == loginPath
}

// TestAutoUsesSessionsWhereAdvertised: auto on a BMC that offers sessions
// logs in once and never sends Basic credentials.
func TestAutoUsesSessionsWhereAdvertised(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	log := logRequests(f, nil)
	node := f.node("n1", "")
	node.BMC.Auth = "auto"
	pool := NewPool([]inventory.Node{node}, testOptions())
	require.NoError(t, errOf(pool.Reset(context.Background(), "n1", power.ForceOff)))
	require.NoError(t, pool.Close(context.Background()))
	logins, logouts, active := f.counts()
	assert.Equal(t, 1, logins)
	assert.Equal(t, 1, logouts)
	assert.Zero(t, active)
	assert.Zero(t, log.basicRequests())
}

// TestExplicitSessionWithoutSessionService: auth: session on a BMC that
// advertises no SessionService fails with that reason, without guessing a
// login URI.
func TestExplicitSessionWithoutSessionService(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	f.set("", "SessionService", deleteField)
	f.set("", "Links", deleteField)
	log := logRequests(f, nil)
	nodes := []inventory.Node{f.node("n1", ""), f.node("n2", "")}
	pool := newTestPool(t, withAuth(nodes, "session"), testOptions())
	for name, err := range readAllConcurrently(pool, nodes) {
		assert.Equal(t, "the BMC advertises no SessionService: set auth: basic (or auto)", reasonOf(t, name, err))
	}
	assert.Zero(t, log.countPrefix("POST /redfish/v1/SessionService"))
	assert.Zero(t, log.countPrefix("GET /redfish/v1/SessionService"))
	assert.Zero(t, log.basicRequests())
	assert.Equal(t, 1, log.count("GET /redfish/v1"), "the service root is read once")
}

// TestAutoFallsBackToBasicWhenSessionsAreRefused: auto on a BMC whose
// session login is refused as unsupported (not as wrong credentials) uses
// Basic auth and says once that auth: basic would skip the attempt.
func TestAutoFallsBackToBasicWhenSessionsAreRefused(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		advice string
	}{
		{"405", http.StatusMethodNotAllowed, redfishErrorBody("Base.1.8.OperationNotAllowed", "not allowed"),
			"session login refused (HTTP 405), basic accepted: set auth: basic to skip the attempt"},
		{"501", http.StatusNotImplemented, "", "session login refused (HTTP 501), basic accepted: set auth: basic to skip the attempt"},
		{"400 not supported", http.StatusBadRequest, redfishErrorBody("Base.1.8.ServiceDisabled", "The service is disabled."),
			"session login refused (HTTP 400), basic accepted: set auth: basic to skip the attempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, "dmtf")
			log := logRequests(f, func(w http.ResponseWriter, r *http.Request) bool {
				if !isLogin(r) {
					return false
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
				return true
			})
			var (
				logMu sync.Mutex
				lines []string
			)
			opts := testOptions()
			opts.Log = func(format string, args ...any) {
				logMu.Lock()
				defer logMu.Unlock()
				lines = append(lines, fmt.Sprintf(format, args...))
			}
			nodes := []inventory.Node{f.node("n1", "/redfish/v1/Systems/437XR1138R2"), f.node("n2", "/redfish/v1/Systems/437XR1138R2")}
			pool := NewPool(nodes, opts)
			for round := range 2 {
				for name, err := range readAllConcurrently(pool, nodes) {
					require.NoError(t, err, "round %d: %s", round, name)
				}
			}
			require.NoError(t, pool.Close(context.Background()))

			assert.Equal(t, 1, log.count("POST "+loginPath), "one session login attempt")
			assert.Positive(t, log.basicRequests())
			assert.Equal(t, []Hint{{Endpoint: f.server.URL, Advice: tt.advice}}, pool.Hints())
			logMu.Lock()
			defer logMu.Unlock()
			mentions := 0
			for _, line := range lines {
				mentions += strings.Count(line, tt.advice)
			}
			assert.Equal(t, 1, mentions, "said once in the -v log: %q", lines)
		})
	}
}

// TestRefusedSessionLoginIsTheOnlyAttempt: a session login refused for its
// credentials is the one failed login: auto does not try Basic after it,
// and nothing tries again.
func TestRefusedSessionLoginIsTheOnlyAttempt(t *testing.T) {
	tests := []struct {
		name   string
		status int
		reason string
	}{
		{"401", http.StatusUnauthorized, "wrong username or password (HTTP 401 on session login)"},
		{"403", http.StatusForbidden, "session login forbidden (HTTP 403): the account may be locked or lack the Login privilege"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureBMC(t, "cray-ex")
			log := logRequests(f, func(w http.ResponseWriter, r *http.Request) bool {
				if !isLogin(r) {
					return false
				}
				writeRedfishError(w, tt.status, "Base.1.8.InsufficientPrivilege", "no")
				return true
			})
			nodes := []inventory.Node{f.node("n0", "Node0"), f.node("n1", "Node1")}
			pool := newTestPool(t, nodes, testOptions())
			for range 2 {
				for name, err := range readAllConcurrently(pool, nodes) {
					assert.Equal(t, tt.reason, reasonOf(t, name, err))
				}
			}
			assert.Equal(t, 1, log.count("POST "+loginPath))
			assert.Zero(t, log.basicRequests(), "no Basic auth after a refused login")
		})
	}
}

// TestAutoFallbackWithWrongPassword: when auto falls back to Basic and Basic
// is refused too, the reason is the password, and Basic was tried once.
func TestAutoFallbackWithWrongPassword(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	log := logRequests(f, func(w http.ResponseWriter, r *http.Request) bool {
		if !isLogin(r) {
			return false
		}
		writeRedfishError(w, http.StatusMethodNotAllowed, "Base.1.8.OperationNotAllowed", "not allowed")
		return true
	})
	nodes := []inventory.Node{f.node("n1", "/redfish/v1/Systems/437XR1138R2"), f.node("n2", "/redfish/v1/Systems/437XR1138R2")}
	for i := range nodes {
		nodes[i].BMC.Password = "wrong"
	}
	pool := newTestPool(t, nodes, testOptions())
	for range 2 {
		for name, err := range readAllConcurrently(pool, nodes) {
			assert.Equal(t, "wrong username or password (Basic auth refused after session login got HTTP 405)", reasonOf(t, name, err))
		}
	}
	assert.Equal(t, 1, log.basicRequests())
	assert.Equal(t, 1, log.count("POST "+loginPath))
	assert.Empty(t, pool.Hints())
}

// TestExplicitSessionRefusedAsUnsupported: auth: session does not fall back;
// it says what would help.
func TestExplicitSessionRefusedAsUnsupported(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	log := logRequests(f, func(w http.ResponseWriter, r *http.Request) bool {
		if !isLogin(r) {
			return false
		}
		writeRedfishError(w, http.StatusMethodNotAllowed, "Base.1.8.OperationNotAllowed", "not allowed")
		return true
	})
	node := f.node("n1", "")
	node.BMC.Auth = "session"
	pool := newTestPool(t, []inventory.Node{node}, testOptions())
	_, err := pool.PowerState(context.Background(), "n1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "session login: HTTP 405")
	assert.Contains(t, err.Error(), "set auth: basic (or auto)")
	assert.Zero(t, log.basicRequests())
}

// TestFailedReloginIsTheOnlyAttempt: a session that expired and whose
// re-login is refused costs one failed login however many requests found
// the session gone.
func TestFailedReloginIsTheOnlyAttempt(t *testing.T) {
	f := newFixtureBMC(t, "cray-ex")
	var (
		mu      sync.Mutex
		refuse  bool
		refused int
	)
	logRequests(f, func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if !isLogin(r) || !refuse {
			return false
		}
		refused++
		writeRedfishError(w, http.StatusUnauthorized, "Base.1.8.NoValidSession", "Invalid user name or password.")
		return true
	})
	nodes := []inventory.Node{f.node("n0", "Node0"), f.node("n1", "Node1")}
	pool := newTestPool(t, nodes, testOptions())
	for name, err := range readAllConcurrently(pool, nodes) {
		require.NoError(t, err, name)
	}
	mu.Lock()
	refuse = true // the password was changed on the BMC
	mu.Unlock()
	f.dropSessions()
	var wg sync.WaitGroup
	for range 4 {
		for _, node := range nodes {
			wg.Go(func() {
				_, err := pool.PowerState(context.Background(), node.Name)
				assert.Equal(t, "wrong username or password (HTTP 401 on session login)", reasonOf(t, node.Name, err))
			})
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, refused, "failed logins")
}

// TestTransientLoginFailureIsNotRemembered: a login that failed for a
// reason other than the credentials (the BMC's session limit) is tried
// again.
func TestTransientLoginFailureIsNotRemembered(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	var (
		mu    sync.Mutex
		busy  = true
		tries int
	)
	logRequests(f, func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if !isLogin(r) {
			return false
		}
		tries++
		if !busy {
			return false
		}
		writeRedfishError(w, http.StatusServiceUnavailable, "Base.1.8.SessionLimitExceeded", "too many sessions")
		return true
	})
	opts := testOptions()
	opts.Retries = -1
	pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, opts)
	_, err := pool.PowerState(context.Background(), "n1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 503")
	mu.Lock()
	busy = false
	mu.Unlock()
	_, err = pool.PowerState(context.Background(), "n1")
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, tries)
}

// TestServiceRootIsReadOncePerBMC: neither a re-login after the session
// expired nor a retried login reads the service root again.
func TestServiceRootIsReadOncePerBMC(t *testing.T) {
	f := newFixtureBMC(t, "gigabyte")
	var (
		mu     sync.Mutex
		logins int
	)
	log := logRequests(f, func(w http.ResponseWriter, r *http.Request) bool {
		if !isLogin(r) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		logins++
		if logins > 1 {
			return false
		}
		writeRedfishError(w, http.StatusServiceUnavailable, "Base.1.8.SessionLimitExceeded", "too many sessions")
		return true
	})
	opts := testOptions()
	opts.Retries = -1
	pool := newTestPool(t, []inventory.Node{f.node("n1", "")}, opts)
	_, err := pool.PowerState(context.Background(), "n1")
	require.Error(t, err, "the first login meets the session limit")
	for range 3 {
		_, err = pool.PowerState(context.Background(), "n1")
		require.NoError(t, err)
		f.dropSessions() // the BMC forgets the session (timeout, reboot)
	}
	assert.Equal(t, 4, log.count("POST "+loginPath))
	assert.Equal(t, 1, log.count("GET /redfish/v1"), "service root reads")
}

// TestGroupHints: one line per piece of advice, naming a few of its BMCs.
func TestGroupHints(t *testing.T) {
	const advice, other = "session login refused (HTTP 405), basic accepted: set auth: basic to skip the attempt", "other advice"
	var hints []Hint
	for i := range 7 {
		hints = append(hints, Hint{Endpoint: fmt.Sprintf("https://b%d", i), Advice: advice})
	}
	hints = append(hints, Hint{Endpoint: "https://c0", Advice: other})
	assert.Equal(t, []string{
		advice + " (bmc https://b0, https://b1, https://b2, https://b3, https://b4 and 2 more)",
		other + " (bmc https://c0)",
	}, GroupHints(hints))
	assert.Empty(t, GroupHints(nil))
}
