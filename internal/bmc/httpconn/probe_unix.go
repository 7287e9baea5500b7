//go:build unix

package httpconn

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// socketProbe peeks at an idle connection's socket without blocking. It
// is set up once per connection, so that each check costs one system call
// and no allocation: every reuse is checked.
type socketProbe struct {
	raw  syscall.RawConn // nil when the connection has no socket to peek at
	peek func(fd uintptr) bool
	// found is what the last peek found: bytes, a close or an error.
	found bool
}

func (p *socketProbe) attach(conn net.Conn) {
	// Underneath TLS (and bos's record reader) is the socket.
	for {
		wrapper, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		conn = wrapper.NetConn()
	}
	socket, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := socket.SyscallConn()
	if err != nil {
		return
	}
	p.raw = raw
	p.peek = func(fd uintptr) bool {
		var buf [1]byte
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK)
		// Nothing to read (EAGAIN) is the healthy idle state; 0 bytes
		// without an error is the peer's FIN.
		idle := errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		p.found = n > 0 || !idle
		return true
	}
}

// stale says whether conn, the connection the probe was set up for, can no
// longer carry a request: the peer has closed it, or sent bytes nobody
// asked for.
func (p *socketProbe) stale(conn net.Conn) bool {
	if p.raw == nil {
		return false
	}
	// An expired deadline from the last exchange would fail the peek.
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return true
	}
	if err := p.raw.Read(p.peek); err != nil {
		return true
	}
	return p.found
}
