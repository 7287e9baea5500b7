package sim

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTLSFleet(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 3, TLS: true, Profile: "mixed"})
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(fleet.CACertPEM()))
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(transport.CloseIdleConnections)
	for _, info := range fleet.Nodes() {
		require.Regexp(t, `^https://127\.1\.0\.\d+:\d+$`, info.Endpoint)
		client := newRedfishClient(t, info.Endpoint)
		client.http.Transport = transport
		client.login()
		status, _, _ := client.do(http.MethodGet, info.System, nil)
		assert.Equal(t, http.StatusOK, status, "certificate verified for %s", info.Endpoint)
	}

	path := filepath.Join(t.TempDir(), "inv.yaml")
	require.NoError(t, fleet.WriteInventory(path))
	inventory, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(inventory), "  ca_file: inv.yaml.ca.pem\n")
	ca, err := os.ReadFile(path + ".ca.pem")
	require.NoError(t, err)
	assert.Equal(t, fleet.CACertPEM(), ca)
}

func TestLargeFleetStartsAndClosesCleanly(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"2000 BMCs", Options{Nodes: 2000, Profile: "mixed"}},
		{"10000 nodes on 1250 BMCs", Options{Nodes: 10000, NodesPerBMC: 8, Profile: "mixed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			fleet := startFleet(t, tt.opts)
			nodes := fleet.Nodes()
			require.Len(t, nodes, tt.opts.Nodes)
			last := nodes[len(nodes)-1]
			client := newRedfishClient(t, last.Endpoint)
			client.login()
			assert.NotNil(t, client.powerState(last.System))
			client.http.CloseIdleConnections()

			require.NoError(t, fleet.Close())
			require.NoError(t, fleet.Close(), "Close is idempotent")
			// Closed client connections take a moment to unwind their goroutines.
			require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+5 }, 5*time.Second, 10*time.Millisecond,
				"goroutines before %d, now %d", before, runtime.NumGoroutine())
		})
	}
}

func BenchmarkStart10000(b *testing.B) {
	for _, perBMC := range []int{1, 2} {
		b.Run(fmt.Sprintf("%d per BMC", perBMC), func(b *testing.B) {
			for b.Loop() {
				fleet, err := Start(b.Context(), Options{Nodes: 10000, NodesPerBMC: perBMC, Profile: "mixed"})
				if err != nil {
					b.Fatal(err)
				}
				if err := fleet.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestConnectionBudget: past the budget, connections idle long enough are
// closed, recently used ones are spared, and a client whose connection was
// closed simply redials.
func TestConnectionBudget(t *testing.T) {
	const budget, nodes = 2, 6
	tests := []struct {
		name     string
		minIdle  time.Duration
		wantOpen int
	}{
		{"idle connections closed", 0, budget},
		{"recently used connections spared", time.Hour, nodes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: nodes, MaxConnections: budget})
			openConnections := func() int {
				fleet.conns.mu.Lock()
				defer fleet.conns.mu.Unlock()
				return fleet.conns.open
			}
			fleet.conns.mu.Lock()
			fleet.conns.minIdle = tt.minIdle
			fleet.conns.mu.Unlock()
			clients := make([]*redfishClient, 0, nodes)
			for _, info := range fleet.Nodes() {
				client := newRedfishClient(t, info.Endpoint)
				status, _, _ := client.do(http.MethodGet, "/redfish/v1/", nil)
				require.Equal(t, http.StatusOK, status)
				clients = append(clients, client)
			}
			require.Eventually(t, func() bool { return openConnections() == tt.wantOpen }, 5*time.Second, time.Millisecond,
				"open connections %d", openConnections())
			for _, client := range clients {
				status, _, _ := client.do(http.MethodGet, "/redfish/v1/", nil)
				assert.Equal(t, http.StatusOK, status, "a client whose idle connection was closed redials")
			}
		})
	}
}

func TestConnectionBudgetNeedsFiles(t *testing.T) {
	_, err := connectionBudget(openFileLimit(), 0)
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.Contains(t, err.Error(), "ulimit -n")
	budget, err := connectionBudget(10, 7)
	require.NoError(t, err)
	assert.Equal(t, 7, budget)
}
