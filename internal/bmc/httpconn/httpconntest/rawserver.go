// Package httpconntest serves tests of HTTP clients (package httpconn,
// and bmc above it) with misbehaviours net/http's own server would never
// commit.
package httpconntest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
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

// RawServer is a loopback server that answers with whatever bytes its test
// writes.
type RawServer struct {
	URL   string
	conns atomic.Int64 // connections accepted

	mu   sync.Mutex
	open []net.Conn
}

// RawConn is the server's end of one connection.
type RawConn struct {
	net.Conn // TLS when the server speaks TLS
	// Requests reads what the client sent.
	Requests *bufio.Reader
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

// Together runs write with the connection's output held back, then sends
// all of it at once.
func (c *RawConn) Together(write func()) error {
	c.wire.holding = true
	write()
	c.wire.holding = false
	_, err := c.wire.Conn.Write(c.wire.held.Bytes())
	c.wire.held.Reset()
	return err
}

// ReadRequest reads the next request whole; nil when the client closed the
// connection or sent something else.
func (c *RawConn) ReadRequest() *http.Request {
	req, err := http.ReadRequest(c.Requests)
	if err != nil {
		return nil
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return req
}

// NewRawServer serves every connection with serve, on 127.0.0.1, over TLS
// when tlsServer is set. Connections close when serve returns, and all of
// them when the test ends.
func NewRawServer(tb testing.TB, tlsServer bool, serve func(c *RawConn)) *RawServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	s := &RawServer{URL: "http://" + ln.Addr().String()}
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
			c := &RawConn{wire: &coalescingConn{Conn: conn}}
			c.Conn = c.wire
			if config != nil {
				c.Conn = tls.Server(c.wire, config)
			}
			c.Requests = bufio.NewReader(c.Conn)
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

// Conns is how many connections the server has accepted.
func (s *RawServer) Conns() int64 { return s.conns.Load() }

// Answerf is a final answer with a Content-Length body.
func Answerf(format string, args ...any) string {
	body := fmt.Sprintf(format, args...)
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}
