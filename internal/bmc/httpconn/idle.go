package httpconn

import "time"

// reapPerDial is how many idle connections are checked each time a new
// one is opened.
const reapPerDial = 2

// idleList is a doubly linked list of idle connections, linked through
// the connections themselves so it costs no allocation.
type idleList struct {
	front, back *persistConn
}

func (l *idleList) pushBack(pc *persistConn) {
	pc.prev, pc.next = l.back, nil
	if l.back != nil {
		l.back.next = pc
	} else {
		l.front = pc
	}
	l.back = pc
}

func (l *idleList) remove(pc *persistConn) {
	if pc.prev != nil {
		pc.prev.next = pc.next
	} else {
		l.front = pc.next
	}
	if pc.next != nil {
		pc.next.prev = pc.prev
	} else {
		l.back = pc.prev
	}
	pc.prev, pc.next = nil, nil
}

// release ends an exchange: the connection goes back to the idle pool if
// it can carry another request, else it is closed; either way the slot is
// freed. The idle connection is in place before the slot frees, so a
// waiting caller finds it.
func (t *Transport) release(pc *persistConn, reusable bool) {
	if reusable {
		t.mu.Lock()
		pc.idleSince = time.Now()
		pc.host.idle = append(pc.host.idle, pc)
		t.idle.pushBack(pc)
		if !t.armed {
			t.armed = true
			if t.sweeper == nil {
				t.sweeper = time.AfterFunc(t.idleTimeout, t.sweep)
			} else {
				t.sweeper.Reset(t.idleTimeout)
			}
		}
		t.mu.Unlock()
	} else {
		_ = pc.Close()
	}
	<-pc.host.slots
}

// unlistIdle takes pc out of the idle pool. The caller holds t.mu.
func (t *Transport) unlistIdle(pc *persistConn) {
	idle := pc.host.idle
	for i := range idle {
		if idle[i] == pc {
			last := len(idle) - 1
			copy(idle[i:], idle[i+1:])
			idle[last] = nil
			pc.host.idle = idle[:last]
			break
		}
	}
	t.idle.remove(pc)
}

// reapClosed closes the least recently checked idle connections that their
// BMC has closed. net/http's read goroutine notices such a close at once;
// here nothing reads an idle connection, and without this a fleet of BMCs
// that close idle connections (as `bos sim` does past its connection
// budget) would leave a socket in CLOSE_WAIT per BMC until reuse or
// expiry. Checking a few per new connection keeps pace with the BMCs'
// closes for one system call each.
func (t *Transport) reapClosed() {
	var closed [reapPerDial]*persistConn
	t.mu.Lock()
	for i := range reapPerDial {
		pc := t.idle.front
		if pc == nil {
			break
		}
		if pc.stale() {
			t.unlistIdle(pc)
			closed[i] = pc
		} else {
			t.idle.remove(pc)
			t.idle.pushBack(pc)
		}
	}
	t.mu.Unlock()
	for _, pc := range closed {
		if pc != nil {
			_ = pc.Close()
		}
	}
}

// sweep closes connections idle for the idle timeout, as a BMC would, so a
// finished session does not keep thousands of sockets open.
func (t *Transport) sweep() {
	t.closeIdleSince(time.Now().Add(-t.idleTimeout))
}

// CloseIdle closes every idle connection; requests in flight finish.
func (t *Transport) CloseIdle() {
	t.closeIdleSince(time.Now().Add(time.Hour))
}

// closeIdleSince closes the connections idle since before cutoff and
// keeps the sweeper armed while others remain.
func (t *Transport) closeIdleSince(cutoff time.Time) {
	var expired []*persistConn
	var oldest time.Time
	t.mu.Lock()
	for pc := t.idle.front; pc != nil; {
		next := pc.next
		if pc.idleSince.Before(cutoff) {
			t.unlistIdle(pc)
			expired = append(expired, pc)
		} else if oldest.IsZero() || pc.idleSince.Before(oldest) {
			oldest = pc.idleSince
		}
		pc = next
	}
	t.armed = !oldest.IsZero()
	if t.sweeper != nil {
		if t.armed {
			t.sweeper.Reset(time.Until(oldest.Add(t.idleTimeout)))
		} else {
			t.sweeper.Stop()
		}
	}
	t.mu.Unlock()
	for _, pc := range expired {
		_ = pc.Close()
	}
}
