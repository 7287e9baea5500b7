//go:build !unix

package httpconn

import "net"

// socketProbe cannot peek at a socket here; a closed connection is then
// found when the request on it fails.
type socketProbe struct{}

func (*socketProbe) attach(net.Conn) {}

func (*socketProbe) stale(net.Conn) bool { return false }
