package sim

import (
	"container/list"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// reservedFiles is what the process keeps for itself beyond the fleet's
// listeners and connections: standard streams, the control endpoint, files
// being written, the runtime's poller.
const reservedFiles = 256

// minConnections is the smallest connection budget worth running with: a
// client needs a few connections at once to get anything done.
const minConnections = 16

// connectionBudget is how many client connections the fleet may keep open
// when the caller does not say: what the open-file limit leaves once every
// BMC has its listener. Without a budget a 10,000-BMC fleet holding one
// keep-alive connection per BMC needs 20,000 descriptors, and accept would
// stall on EMFILE instead of serving.
func connectionBudget(nodes, requested int) (int, error) {
	if requested > 0 {
		return requested, nil
	}
	limit := openFileLimit()
	budget := limit - nodes - reservedFiles
	if budget < minConnections {
		return 0, fmt.Errorf("%w: nodes = %d needs at least %d open files (one listener per BMC, %d connections, %d spare) but the limit is %d: raise it (ulimit -n %d) or run fewer nodes",
			ErrInvalidOptions, nodes, nodes+reservedFiles+minConnections, minConnections, reservedFiles, limit, 2*nodes+reservedFiles)
	}
	return budget, nil
}

// connLimiter keeps the fleet's open connections within its budget. When a
// new connection takes the fleet past it, the connection idle the longest
// is closed, as a BMC's keep-alive timeout would close it; clients redial.
// Busy connections are never closed, so the budget can be exceeded while
// that many requests are in flight.
type connLimiter struct {
	max int

	mu    sync.Mutex
	open  int
	idle  *list.List // net.Conn, longest idle first
	where map[net.Conn]*list.Element
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, idle: list.New(), where: make(map[net.Conn]*list.Element)}
}

// track is every fleet server's http.Server.ConnState hook.
func (l *connLimiter) track(conn net.Conn, state http.ConnState) {
	var evict net.Conn
	l.mu.Lock()
	switch state {
	case http.StateNew:
		l.open++
		if l.open > l.max {
			evict = l.takeLongestIdle()
		}
	case http.StateIdle:
		l.forget(conn)
		l.where[conn] = l.idle.PushBack(conn)
	case http.StateActive:
		l.forget(conn)
	case http.StateClosed, http.StateHijacked:
		l.forget(conn)
		l.open--
	}
	l.mu.Unlock()
	if evict != nil {
		// Its server goroutine sees the close and reports StateClosed.
		_ = evict.Close()
	}
}

func (l *connLimiter) takeLongestIdle() net.Conn {
	oldest := l.idle.Front()
	if oldest == nil {
		return nil
	}
	conn := oldest.Value.(net.Conn)
	l.forget(conn)
	return conn
}

// forget drops conn from the idle list. The caller holds l.mu.
func (l *connLimiter) forget(conn net.Conn) {
	if element, ok := l.where[conn]; ok {
		l.idle.Remove(element)
		delete(l.where, conn)
	}
}
