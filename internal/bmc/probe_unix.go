//go:build unix

package bmc

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"time"
)

// peerClosed says whether conn can no longer carry a request: the peer has
// closed it, or sent bytes nobody asked for. It peeks at the socket
// without blocking, one system call.
func peerClosed(conn net.Conn) bool {
	if tlsConn, ok := conn.(*tls.Conn); ok {
		conn = tlsConn.NetConn()
	}
	socket, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := socket.SyscallConn()
	if err != nil {
		return true
	}
	// An expired deadline from the last exchange would fail the peek.
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return true
	}
	closed := false
	err = raw.Read(func(fd uintptr) bool {
		var buf [1]byte
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK)
		// Nothing to read (EAGAIN) is the healthy idle state; 0 bytes
		// without an error is the peer's FIN.
		idle := errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		closed = n > 0 || !idle
		return true
	})
	return closed || err != nil
}
