package sim

import (
	"container/list"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
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

// minIdleBeforeClose spares connections a client is still using: between
// the requests of one exchange (service root, login, read) a connection is
// idle for microseconds, and closing it then races the client's next
// request, which fails if it is not safe to re-send. Between polls a
// connection is idle for seconds.
const minIdleBeforeClose = 500 * time.Millisecond

// connLimiter keeps the fleet's open connections within its budget. While
// the fleet is past it, connections idle longer than minIdleBeforeClose are
// closed, longest idle first, as a BMC's keep-alive timeout would close
// them; clients redial. Busy and recently used connections are never
// closed, so the budget is exceeded while that many are in use.
type connLimiter struct {
	max int

	mu      sync.Mutex
	minIdle time.Duration // minIdleBeforeClose; tests shorten it
	open    int
	idle    *list.List // idleConn, longest idle first
	where   map[net.Conn]*list.Element
}

type idleConn struct {
	conn  net.Conn
	since time.Time
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, minIdle: minIdleBeforeClose, idle: list.New(), where: make(map[net.Conn]*list.Element)}
}

// track is every fleet server's http.Server.ConnState hook.
func (l *connLimiter) track(conn net.Conn, state http.ConnState) {
	now := time.Now()
	l.mu.Lock()
	switch state {
	case http.StateNew:
		l.open++
	case http.StateIdle:
		l.forget(conn)
		l.where[conn] = l.idle.PushBack(idleConn{conn: conn, since: now})
	case http.StateActive:
		l.forget(conn)
	case http.StateClosed, http.StateHijacked:
		l.forget(conn)
		l.open--
	}
	evict := l.takeExpendable(now)
	l.mu.Unlock()
	for _, conn := range evict {
		// Its server goroutine sees the close and reports StateClosed.
		_ = conn.Close()
	}
}

// takeExpendable removes from the idle list the connections to close to
// get back within budget, longest idle first. The caller holds l.mu.
func (l *connLimiter) takeExpendable(now time.Time) []net.Conn {
	var evict []net.Conn
	for excess := l.open - l.max; len(evict) < excess; {
		oldest := l.idle.Front()
		if oldest == nil || now.Sub(oldest.Value.(idleConn).since) < l.minIdle {
			break
		}
		conn := oldest.Value.(idleConn).conn
		l.forget(conn)
		evict = append(evict, conn)
	}
	return evict
}

// forget drops conn from the idle list. The caller holds l.mu.
func (l *connLimiter) forget(conn net.Conn) {
	if element, ok := l.where[conn]; ok {
		l.idle.Remove(element)
		delete(l.where, conn)
	}
}
