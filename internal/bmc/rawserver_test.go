package bmc

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawServer is a loopback server that answers with whatever bytes its test
// writes: the misbehaviours under test are ones net/http's own server
// would never commit.
type rawServer struct {
	URL   string
	conns atomic.Int64 // connections accepted

	mu   sync.Mutex
	open []net.Conn
}

// rawConn is the server's end of one connection.
type rawConn struct {
	net.Conn // TLS when the server speaks TLS
	requests *bufio.Reader
	wire     *coalescingConn
}

// coalescingConn holds back writes while holding is set, so what several
// writes produced (several TLS records, say) reaches the client in one
// TCP segment.
type coalescingConn struct {
	net.Conn
	holding bool
	held    bytes.Buffer
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	if c.holding {
		return c.held.Write(p)
	}
	return c.Conn.Write(p)
}

// together runs write with the connection's output held back, then sends
// all of it at once.
func (c *rawConn) together(write func()) error {
	c.wire.holding = true
	write()
	c.wire.holding = false
	_, err := c.wire.Conn.Write(c.wire.held.Bytes())
	c.wire.held.Reset()
	return err
}

// readRequest reads the next request whole; nil when the client closed the
// connection or sent something else.
func (c *rawConn) readRequest() *http.Request {
	req, err := http.ReadRequest(c.requests)
	if err != nil {
		return nil
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return req
}

// newRawServer serves every connection with serve, on 127.0.0.1, over TLS
// when tlsServer is set. Connections close when serve returns, and all of
// them when the test ends.
func newRawServer(tb testing.TB, tlsServer bool, serve func(c *rawConn)) *rawServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	s := &rawServer{URL: "http://" + ln.Addr().String()}
	var config *tls.Config
	if tlsServer {
		config = &tls.Config{Certificates: []tls.Certificate{selfSignedCertificate(tb)}, MinVersion: tls.VersionTLS12}
		s.URL = "https://" + ln.Addr().String()
	}
	var serving sync.WaitGroup
	serving.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			c := &rawConn{wire: &coalescingConn{Conn: conn}}
			c.Conn = c.wire
			if config != nil {
				c.Conn = tls.Server(c.wire, config)
			}
			c.requests = bufio.NewReader(c.Conn)
			s.mu.Lock()
			s.open = append(s.open, conn)
			s.mu.Unlock()
			serving.Go(func() {
				defer func() { _ = c.Close() }()
				serve(c)
			})
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, conn := range s.open {
			_ = conn.Close()
		}
		s.mu.Unlock()
		serving.Wait()
	})
	return s
}

func selfSignedCertificate(tb testing.TB) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	require.NoError(tb, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// pollAnswer is what a BMC answers a poll with, give or take.
const pollAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n" +
	`{"PowerState":"On"}`

// BenchmarkTransportKeepAlive is one poll over a kept-alive connection,
// the request most of bos's traffic is; allocs/op is the transport's own
// plus the request's (the server reads requests without allocating).
func BenchmarkTransportKeepAlive(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		name := "http"
		if useTLS {
			name = "https"
		}
		b.Run(name, func(b *testing.B) {
			server := newRawServer(b, useTLS, func(c *rawConn) {
				for {
					// Requests carry no body: the empty line ends each.
					for {
						line, err := c.requests.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := io.WriteString(c, pollAnswer); err != nil {
						return
					}
				}
			})
			tlsConfig, err := newTLSConfig(tlsSettings{insecure: true})
			require.NoError(b, err)
			transport := newConnTransport(tlsConfig, Options{}.withDefaults())
			b.Cleanup(transport.closeIdle)
			req, err := http.NewRequest(http.MethodGet, server.URL+"/redfish/v1/Systems/1", nil)
			require.NoError(b, err)
			buf := make([]byte, 512)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := transport.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				for err == nil {
					_, err = resp.Body.Read(buf)
				}
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
			}
			if server.conns.Load() != 1 {
				b.Fatalf("%d connections, want 1", server.conns.Load())
			}
		})
	}
}
