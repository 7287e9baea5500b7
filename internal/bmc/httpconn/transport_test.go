package httpconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/sim"
)

// countingServer is a loopback HTTP server that counts the connections
// clients open to it.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
	// onIdle, when set, sees every connection the server is done with.
	onIdle func(net.Conn)
}

func newCountingServer(t *testing.T, handler http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{Server: httptest.NewUnstartedServer(handler)}
	s.Config.ConnState = func(conn net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			s.conns.Add(1)
		case http.StateIdle:
			if s.onIdle != nil {
				s.onIdle(conn)
			}
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// testOptions are bmc's defaults, with a request timeout that a test can
// wait out.
func testOptions() Options {
	return Options{RequestTimeout: 5 * time.Second, MaxConnsPerHost: 2, IdleTimeout: 30 * time.Second}
}

// newTestTransport is a Transport trusting no server's certificate, or
// every one with insecure.
func newTestTransport(t *testing.T, insecure bool) *Transport {
	t.Helper()
	transport := New(&tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}, testOptions()) //nolint:gosec
	t.Cleanup(transport.CloseIdle)
	return transport
}

// send runs one request through transport and reads its body whole.
func send(ctx context.Context, transport http.RoundTripper, method, url, body string) (string, error) {
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, reader)
	if err != nil {
		return "", err
	}
	resp, err := transport.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	payload, err := io.ReadAll(resp.Body)
	return string(payload), err
}

func TestTransportKeepsConnectionsAlive(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		method    string
		closeReq  bool
		wantBody  string
		wantConns int64
	}{
		{name: "content length", handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") },
			method: http.MethodGet, wantBody: "hello", wantConns: 1},
		{name: "no body", handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
			method: http.MethodPost, wantConns: 1},
		{name: "HEAD", handler: func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Content-Length", "100") },
			method: http.MethodHead, wantConns: 1},
		{name: "chunked", handler: func(w http.ResponseWriter, _ *http.Request) {
			for i := range 3 {
				_, _ = fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		}, method: http.MethodGet, wantBody: "part0;part1;part2;", wantConns: 1},
		{name: "server says Connection: close", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		}, method: http.MethodGet, wantBody: "bye", wantConns: 3},
		{name: "client says Connection: close", handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") },
			method: http.MethodGet, closeReq: true, wantBody: "ok", wantConns: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := newCountingServer(t, tt.handler)
			transport := newTestTransport(t, false)
			for i := range 3 {
				req, err := http.NewRequest(tt.method, server.URL+"/x", nil)
				require.NoError(t, err)
				req.Close = tt.closeReq
				resp, err := transport.RoundTrip(req)
				require.NoError(t, err, "request %d", i)
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				assert.Equal(t, tt.wantBody, string(body))
			}
			assert.Equal(t, tt.wantConns, server.conns.Load(), "connections opened for 3 requests")
		})
	}
}

func TestTransportBodyClosedEarly(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		wantConns int64
	}{
		{name: "small remainder is drained", size: 1 << 10, wantConns: 1},
		{name: "large remainder closes the connection", size: 1 << 20, wantConns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(strings.Repeat("x", tt.size)))
			})
			transport := newTestTransport(t, false)
			for range 2 {
				req, err := http.NewRequest(http.MethodGet, server.URL, nil)
				require.NoError(t, err)
				resp, err := transport.RoundTrip(req)
				require.NoError(t, err)
				_, err = io.ReadFull(resp.Body, make([]byte, 10))
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				_, err = resp.Body.Read(make([]byte, 1))
				assert.ErrorIs(t, err, errBodyClosed)
			}
			assert.Equal(t, tt.wantConns, server.conns.Load())
		})
	}
}

// TestTransportBoundsRequestsPerHost: callers beyond the bound wait for a
// connection, and give up with their context.
func TestTransportBoundsRequestsPerHost(t *testing.T) {
	release := make(chan struct{})
	var inFlight, maxInFlight atomic.Int64
	server := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		n := inFlight.Add(1)
		for old := maxInFlight.Load(); n > old && !maxInFlight.CompareAndSwap(old, n); old = maxInFlight.Load() {
		}
		<-release
		inFlight.Add(-1)
		_, _ = io.WriteString(w, "ok")
	})
	transport := newTestTransport(t, false)
	const callers = 6
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
			errs <- err
		})
	}
	maxConns := int64(testOptions().MaxConnsPerHost)
	require.Eventually(t, func() bool { return inFlight.Load() == maxConns }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := send(ctx, transport, http.MethodGet, server.URL, "")
		waiting <- err
	}()
	cancel()
	assert.ErrorIs(t, <-waiting, context.Canceled, "a caller waiting for a connection gives up with its context")

	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, maxConns, maxInFlight.Load())
	assert.Equal(t, maxConns, server.conns.Load())
}

// TestTransportResendsOnlyIdempotentRequests: a kept-alive connection the
// server closes instead of answering is retried once, on a fresh
// connection, for requests that are safe to send twice.
func TestTransportResendsOnlyIdempotentRequests(t *testing.T) {
	tests := []struct {
		method    string
		wantSends int64
		wantErr   bool
	}{
		{method: http.MethodGet, wantSends: 2},
		{method: http.MethodDelete, wantSends: 2},
		{method: http.MethodPut, wantSends: 2},
		{method: http.MethodPost, wantSends: 1, wantErr: true},
		{method: http.MethodPatch, wantSends: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			var sends atomic.Int64
			server := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/warm" {
					return
				}
				body, _ := io.ReadAll(r.Body)
				if sends.Add(1) == 1 {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						_ = conn.Close()
					}
					return
				}
				_, _ = w.Write(body)
			})
			transport := newTestTransport(t, false)
			_, err := send(context.Background(), transport, http.MethodGet, server.URL+"/warm", "")
			require.NoError(t, err)

			body, err := send(context.Background(), transport, tt.method, server.URL, "payload")
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, "payload", body, "the retry carries the body again")
			}
			assert.Equal(t, tt.wantSends, sends.Load())
		})
	}
}

// TestTransportSkipsIdleConnectionsTheServerClosed: a connection the
// server closed while idle is noticed, before any request could be lost
// on it.
func TestTransportSkipsIdleConnectionsTheServerClosed(t *testing.T) {
	tests := []struct{ method string }{{http.MethodGet}, {http.MethodPost}}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			var posts atomic.Int64
			closed := make(chan struct{}, 1)
			server := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					posts.Add(1)
				}
				_, _ = io.WriteString(w, "ok")
			})
			server.onIdle = func(conn net.Conn) {
				_ = conn.Close()
				closed <- struct{}{}
			}
			transport := newTestTransport(t, false)
			_, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
			require.NoError(t, err)
			<-closed
			require.Eventually(t, func() bool {
				transport.mu.Lock()
				defer transport.mu.Unlock()
				return transport.idle.front != nil && transport.idle.front.stale()
			}, 5*time.Second, time.Millisecond, "the server's close reaches the client")

			body, err := send(context.Background(), transport, tt.method, server.URL, "x")
			require.NoError(t, err)
			assert.Equal(t, "ok", body)
			assert.Equal(t, int64(2), server.conns.Load())
			if tt.method == http.MethodPost {
				assert.Equal(t, int64(1), posts.Load())
			}
		})
	}
}

// TestTransportReapsClosedIdleConnections: opening a connection closes
// idle ones their server has closed, so sockets do not pile up.
func TestTransportReapsClosedIdleConnections(t *testing.T) {
	closed := make(chan struct{}, 1)
	first := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	first.onIdle = func(conn net.Conn) {
		_ = conn.Close()
		closed <- struct{}{}
	}
	second := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	transport := newTestTransport(t, false)
	_, err := send(context.Background(), transport, http.MethodGet, first.URL, "")
	require.NoError(t, err)
	<-closed
	require.Eventually(t, func() bool {
		transport.mu.Lock()
		defer transport.mu.Unlock()
		return transport.idle.front.stale()
	}, 5*time.Second, time.Millisecond)

	_, err = send(context.Background(), transport, http.MethodGet, second.URL, "")
	require.NoError(t, err)
	transport.mu.Lock()
	defer transport.mu.Unlock()
	require.NotNil(t, transport.idle.front)
	assert.Nil(t, transport.idle.front.next, "only the second server's connection is left")
	assert.Equal(t, second.Listener.Addr().String(), transport.idle.front.host.key.addr)
}

// TestTransportCancellation: cancelling interrupts a read blocked on the
// server, and the connection is not used again.
func TestTransportCancellation(t *testing.T) {
	tests := []struct {
		name string
		// blockBody: the server sends the header at once, then stalls the
		// body instead.
		blockBody bool
	}{
		{name: "waiting for the answer"},
		{name: "reading the body", blockBody: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			started := make(chan struct{}, 1)
			server := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/block" {
					if tt.blockBody {
						w.Header().Set("Content-Length", "10")
						_, _ = io.WriteString(w, "12345")
						w.(http.Flusher).Flush()
					}
					started <- struct{}{}
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				_, _ = io.WriteString(w, "ok")
			})
			transport := newTestTransport(t, false)
			_, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
			require.NoError(t, err)

			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-started
				cancel()
			}()
			_, err = send(ctx, transport, http.MethodGet, server.URL+"/block", "")
			require.ErrorIs(t, err, context.Canceled)

			_, err = send(context.Background(), transport, http.MethodGet, server.URL, "")
			require.NoError(t, err)
			assert.Equal(t, int64(2), server.conns.Load(), "the interrupted connection was not reused")
		})
	}
}

func TestTransportTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	server := newCountingServer(t, func(http.ResponseWriter, *http.Request) { <-release })
	transport := newTestTransport(t, false)
	transport.requestTimeout = 20 * time.Millisecond
	_, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
	var netErr net.Error
	require.ErrorAs(t, err, &netErr)
	assert.True(t, netErr.Timeout(), "got %v", err)
}

// TestTransportTLS talks to the simulator's HTTPS BMCs, verifying them
// with its generated CA, over one kept-alive connection.
func TestTransportTLS(t *testing.T) {
	fleet, err := sim.Start(context.Background(), sim.Options{Nodes: 1, TLS: true, TimeScale: 0.001})
	require.NoError(t, err)
	t.Cleanup(func() { _ = fleet.Close() })
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(fleet.CACertPEM()))
	endpoint := fleet.Nodes()[0].Endpoint
	require.True(t, strings.HasPrefix(endpoint, "https://"), endpoint)

	tests := []struct {
		name      string
		tlsConfig *tls.Config
		wantErr   string
	}{
		{name: "CA trusted", tlsConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}},
		{name: "insecure by choice", tlsConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}}, //nolint:gosec
		{name: "unknown CA refused", tlsConfig: &tls.Config{MinVersion: tls.VersionTLS12}, wantErr: "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			transport := New(tt.tlsConfig, testOptions())
			defer transport.CloseIdle()
			for range 2 {
				body, err := send(context.Background(), transport, http.MethodGet, endpoint+"/redfish/v1/", "")
				if tt.wantErr != "" {
					require.Error(t, err)
					assert.Contains(t, err.Error(), tt.wantErr)
					return
				}
				require.NoError(t, err)
				assert.Contains(t, body, "/redfish/v1/Systems")
			}
			transport.mu.Lock()
			defer transport.mu.Unlock()
			require.NotNil(t, transport.idle.front)
			assert.Nil(t, transport.idle.front.next, "both requests went over one connection")
			_, isTLS := transport.idle.front.Conn.(*tls.Conn)
			assert.True(t, isTLS)
		})
	}
}
