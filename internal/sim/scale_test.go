package sim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// maxHeapPerStream bounds the heap an open SSE stream costs the fleet:
// net/http's connection buffers (10 KiB: a 4 KiB reader and writer, the
// answer's 2 KiB), its request and answer, and the stream's queue. The
// stacks of its two goroutines come on top: 10 KiB, more with -race.
const maxHeapPerStream = 20 << 10

// TestSSEStreamsAtScale: a stream on each of thousands of BMCs costs the
// fleet two goroutines and a bounded few kilobytes each, and an event of
// every node reaches its BMC's stream.
func TestSSEStreamsAtScale(t *testing.T) {
	fleet, conns, perStream := startStreamingFleet(t, sseScaleBMCs(2000))
	t.Logf("%d BMCs with a stream each, per stream: %.1f KiB heap, %.1f KiB stacks, %.2f goroutines",
		len(conns), float64(perStream.heap)/1024, float64(perStream.stacks)/1024, perStream.goroutines)
	assert.Less(t, perStream.heap, int64(maxHeapPerStream))
	assert.LessOrEqual(t, perStream.goroutines, 2.01, "net/http's two: the handler, and the read that notices a client hang up")

	for _, n := range fleet.nodes {
		require.Equal(t, resetAccepted, n.reset("ForceOff"))
	}
	// PoweringOff at once, Off a power-off time later.
	require.Eventually(t, func() bool { return sentEvents(fleet) == int64(2*len(conns)) }, 30*time.Second, 10*time.Millisecond,
		"events sent %d of %d", sentEvents(fleet), 2*len(conns))
}

// BenchmarkSSEStreams: one event of every node fanned out to its BMC's
// stream, at as many BMCs up to 10,000 as one process's open files allow.
func BenchmarkSSEStreams(b *testing.B) {
	fleet, conns, perStream := startStreamingFleet(b, sseScaleBMCs(10000))
	want := sentEvents(fleet)
	for b.Loop() {
		now := time.Now()
		for _, bmc := range fleet.bmcs {
			bmc.announce(0, now)
		}
		want += int64(len(conns))
		for sentEvents(fleet) < want {
			time.Sleep(100 * time.Microsecond)
		}
	}
	// After the loop, which would clear them.
	b.ReportMetric(float64(len(conns)), "streams")
	b.ReportMetric(float64(perStream.heap+perStream.stacks), "fleet-B/stream")
	b.ReportMetric(perStream.goroutines, "goroutines/stream")
}

// sseScaleBMCs is how many BMCs, up to want, may have a stream each in one
// process: each takes three open files (its listener and the stream's two
// ends), and 10,000 need more than the 20,000 a process may often open.
func sseScaleBMCs(want int) int {
	return min(want, (openFileLimit()-reservedFiles)/3)
}

// streamCost is what one SSE stream costs the fleet on average.
type streamCost struct {
	heap, stacks int64
	goroutines   float64
}

// startStreamingFleet starts a fleet of one-node BMCs and opens an SSE
// stream on each, and says what the streams cost the fleet.
func startStreamingFleet(tb testing.TB, bmcs int) (*Fleet, []net.Conn, streamCost) {
	tb.Helper()
	fleet, err := Start(tb.Context(), Options{Nodes: bmcs, TimeScale: testScale, Password: testPassword, MaxConnections: bmcs})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, fleet.Close()) })
	heapBefore, stacksBefore := liveBytes()
	goroutinesBefore := runtime.NumGoroutine()
	conns := openRawStreams(tb, fleet)
	require.Eventually(tb, func() bool {
		open := 0
		for _, b := range fleet.bmcs {
			open += b.events.openStreams()
		}
		return open == bmcs
	}, 30*time.Second, 10*time.Millisecond)
	heap, stacks := liveBytes()
	cost := streamCost{
		heap:       (heap - heapBefore) / int64(bmcs),
		stacks:     (stacks - stacksBefore) / int64(bmcs),
		goroutines: float64(runtime.NumGoroutine()-goroutinesBefore) / float64(bmcs),
	}
	return fleet, conns, cost
}

// openRawStreams opens an SSE stream on every BMC of the fleet over a bare
// connection read no further than the status: the client side holds no
// goroutine or buffer, so memory measured meanwhile is the fleet's.
func openRawStreams(tb testing.TB, fleet *Fleet) []net.Conn {
	tb.Helper()
	request := "GET " + sseStreamPath + " HTTP/1.1\r\nHost: bmc\r\nAccept: text/event-stream\r\n" +
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("root:"+testPassword)) + "\r\n\r\n"
	conns := make([]net.Conn, 0, len(fleet.bmcs))
	tb.Cleanup(func() {
		for _, conn := range conns {
			_ = conn.Close()
		}
	})
	status := make([]byte, len("HTTP/1.1 200"))
	for _, b := range fleet.bmcs {
		conn, err := net.Dial("tcp", strings.TrimPrefix(b.endpoint, "http://"))
		require.NoError(tb, err)
		conns = append(conns, conn)
		_, err = io.WriteString(conn, request)
		require.NoError(tb, err)
		_, err = io.ReadFull(conn, status)
		require.NoError(tb, err)
		require.Equal(tb, "HTTP/1.1 200", string(status))
	}
	return conns
}

func sentEvents(fleet *Fleet) int64 {
	var sent int64
	for _, b := range fleet.bmcs {
		sent += b.events.sent.Load()
	}
	return sent
}

// liveBytes is the memory the process's live objects and its goroutine
// stacks hold, after a collection.
func liveBytes() (heap, stacks int64) {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return int64(stats.HeapAlloc), int64(stats.StackInuse)
}
