// Package httpconn is bos's HTTP/1.1 keep-alive client transport for many
// small servers: the BMCs. It knows nothing of Redfish, logins or
// credentials; package bmc gives it requests and reads the answers.
package httpconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Transport is an http.RoundTripper. Unlike net/http.Transport it runs no
// goroutine per connection: the caller's goroutine writes the request and
// reads the answer, and buffers are borrowed from pools only while a
// request is in flight. At 10,000 BMCs http.Transport's read and write
// loops (two goroutine stacks and two buffers per kept-alive connection,
// plus a hand-off per request) were most of the driver's CPU and about
// 30 KB per BMC; here an idle connection costs its socket and a few words.
//
// Per server (scheme, host and port) at most Options.MaxConnsPerHost
// requests are in flight, each on its own connection; callers beyond that
// wait. Finished connections are kept for the next request until
// Options.IdleTimeout.
type Transport struct {
	tlsConfig       *tls.Config // cloned per connection with its ServerName
	dialer          net.Dialer
	requestTimeout  time.Duration // bounds each exchange, from dial to the body's end
	idleTimeout     time.Duration
	maxConnsPerHost int
	// dialed counts connections opened: one per server is the goal; more
	// means servers (or the idle timeout) closed kept-alive ones.
	dialed atomic.Int64

	mu    sync.Mutex // guards the fields below and every hostConns.idle
	hosts map[hostKey]*hostConns
	// idle holds every idle connection, least recently checked first.
	idle    idleList
	sweeper *time.Timer // runs sweep while any connection is idle
	armed   bool
}

// Options bound a Transport; every field must be set.
type Options struct {
	// RequestTimeout bounds each exchange, from dialling (and the TLS
	// handshake) to the answer body's end.
	RequestTimeout time.Duration
	// MaxConnsPerHost bounds the requests in flight, and so the open
	// connections, per server.
	MaxConnsPerHost int
	// IdleTimeout is how long a finished connection is kept for the next
	// request.
	IdleTimeout time.Duration
}

// hostKey names one BMC's connections.
type hostKey struct {
	https bool
	addr  string // host:port
}

// hostConns is one BMC's share of the transport.
type hostConns struct {
	key hostKey
	// slots holds a token per request in flight. A request takes an idle
	// connection or, when none is idle, dials: so open connections never
	// outnumber the slots.
	slots chan struct{}
	idle  []*persistConn // most recently used last
}

// persistConn is one kept-alive connection.
type persistConn struct {
	net.Conn
	host       *hostConns
	idleSince  time.Time
	prev, next *persistConn // in Transport.idle
	probe      socketProbe
	// readBudget is how many more bytes the answer being read may take
	// from the connection; past it, reads fail with overBudget.
	readBudget int64
	overBudget *AnswerTooLargeError
}

// AnswerTooLargeError is an answer with a header or body larger than bos
// reads from a BMC. It is not retried: the BMC would send the same again.
// Like every error of a BMC's, it names the cause only: the node's wrapper
// says which BMC.
type AnswerTooLargeError struct {
	Part  string // "answer header", "answer body", or a caller's own ("service root")
	Limit int64  // bytes
}

func (e *AnswerTooLargeError) Error() string {
	limit := fmt.Sprintf("%d KiB", e.Limit>>10)
	if e.Limit%(1<<20) == 0 {
		limit = fmt.Sprintf("%d MiB", e.Limit>>20)
	}
	return fmt.Sprintf("%s over %s (a broken or hostile BMC)", e.Part, limit)
}

// Bounds on what bos reads of one answer. Without them a BMC streaming
// header lines or a body without end (a broken or hostile one) grows a
// buffer until the request times out: gigabytes at loopback speed. The
// header bound holds for every informational answer and the final one
// together. The body bound holds for the bytes on the wire (chunk framing
// included; net/http bounds trailers itself) and so for every reader
// above the transport, gofish's included. The largest resources bos reads
// are a Systems collection (a few dozen bytes per member: even a
// 10,000-system aggregator stays under 1 MiB) and a ComputerSystem (tens
// of kilobytes with vendor extensions); no real one comes near 1 MiB.
const (
	MaxAnswerHeader = 64 << 10
	MaxAnswerBody   = 1 << 20
)

var (
	errAnswerHeaderTooLarge = &AnswerTooLargeError{Part: "answer header", Limit: MaxAnswerHeader}
	// ErrAnswerBodyTooLarge is what reading past MaxAnswerBody returns.
	// Readers above that keep only an error's text (gofish, reading an
	// error answer) can tell it by its text.
	ErrAnswerBodyTooLarge = &AnswerTooLargeError{Part: "answer body", Limit: MaxAnswerBody}
)

// maxInformational is how many informational (1xx) answers may come
// before the final one; net/http allows as many.
const maxInformational = 5

// maxDrain is how much of an unread answer Close reads to keep the
// connection; past it, closing and redialling is cheaper.
const maxDrain = 4 << 10

// aLongTimeAgo is a deadline that makes blocked reads and writes return.
var aLongTimeAgo = time.Unix(1, 0)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 2<<10) }}
)

// errBodyClosed is a read after Close, as net/http reports it.
var errBodyClosed = errors.New("http: read on closed response body")

// New returns a Transport dialling TLS with (a clone of) tlsConfig, which
// the caller may share and keep configuring (its session cache, say)
// until the first request.
func New(tlsConfig *tls.Config, opts Options) *Transport {
	return &Transport{
		tlsConfig:       tlsConfig,
		dialer:          net.Dialer{Timeout: opts.RequestTimeout, KeepAlive: 30 * time.Second},
		requestTimeout:  opts.RequestTimeout,
		idleTimeout:     opts.IdleTimeout,
		maxConnsPerHost: opts.MaxConnsPerHost,
		hosts:           make(map[hostKey]*hostConns),
	}
}

// Dialed is how many connections the Transport has opened.
func (t *Transport) Dialed() int64 { return t.dialed.Load() }

// RoundTrip sends req on a kept-alive connection to its host, or a new
// one, and returns the answer; its body hands the connection back.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	key, err := hostKeyOf(req.URL)
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	ctx := req.Context()
	host := t.host(key)
	select {
	case host.slots <- struct{}{}:
	case <-ctx.Done():
		closeRequestBody(req)
		return nil, ctx.Err()
	}
	for retried := false; ; retried = true {
		pc, reused, err := t.conn(ctx, host)
		if err != nil {
			<-host.slots
			closeRequestBody(req)
			return nil, err
		}
		resp, unanswered, err := t.exchange(ctx, pc, req)
		if err == nil {
			return resp, nil
		}
		// As net/http does: a kept-alive connection the BMC closed while it
		// was idle fails before any answer; a request that is safe to send
		// twice goes once more on a fresh connection.
		if reused && !retried && unanswered && ctx.Err() == nil && peerHadClosed(err) {
			if retry, ok := rewound(req); ok {
				req = retry
				continue
			}
		}
		<-host.slots
		return nil, err
	}
}

func hostKeyOf(u *url.URL) (hostKey, error) {
	key := hostKey{https: u.Scheme == "https", addr: u.Host}
	if u.Scheme != "http" && !key.https {
		return hostKey{}, fmt.Errorf("unsupported protocol scheme %q", u.Scheme)
	}
	if u.Port() == "" {
		port := "80"
		if key.https {
			port = "443"
		}
		key.addr = net.JoinHostPort(u.Hostname(), port)
	}
	return key, nil
}

func (t *Transport) host(key hostKey) *hostConns {
	t.mu.Lock()
	defer t.mu.Unlock()
	host, ok := t.hosts[key]
	if !ok {
		host = &hostConns{key: key, slots: make(chan struct{}, t.maxConnsPerHost)}
		t.hosts[key] = host
	}
	return host
}

// conn returns the host's most recently used idle connection, or dials.
// The caller holds one of the host's slots.
func (t *Transport) conn(ctx context.Context, host *hostConns) (pc *persistConn, reused bool, err error) {
	for {
		t.mu.Lock()
		if n := len(host.idle); n > 0 {
			pc = host.idle[n-1]
			t.unlistIdle(pc)
		}
		t.mu.Unlock()
		if pc == nil {
			break
		}
		// Bytes the BMC sent after its last answer (a body after a 204,
		// say) would be read as this request's answer, and a close would
		// lose a request that cannot be re-sent: net/http learns of both
		// from its read loop, this transport asks the kernel.
		if !pc.stale() {
			return pc, true, nil
		}
		_ = pc.Close()
		pc = nil
	}
	t.reapClosed()
	conn, err := t.dial(ctx, host.key)
	if err != nil {
		return nil, false, err
	}
	pc = &persistConn{Conn: conn, host: host}
	pc.probe.attach(conn)
	return pc, false, nil
}

func (t *Transport) dial(ctx context.Context, key hostKey) (net.Conn, error) {
	conn, err := t.dialer.DialContext(ctx, "tcp", key.addr)
	if err != nil {
		return nil, err
	}
	t.dialed.Add(1)
	if !key.https {
		return conn, nil
	}
	config := t.tlsConfig.Clone()
	if config.ServerName == "" {
		config.ServerName, _, _ = net.SplitHostPort(key.addr)
	}
	tlsConn := tls.Client(&tlsRecordConn{Conn: conn}, config)
	if err := conn.SetDeadline(time.Now().Add(t.requestTimeout)); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tlsConn, nil
}

// exchange writes req on pc and reads the answer's header. On success the
// connection belongs to the answer's body (or is already back in the
// pool); on failure it is closed, and unanswered says whether the failure
// came before any byte of an answer.
func (t *Transport) exchange(ctx context.Context, pc *persistConn, req *http.Request) (resp *http.Response, unanswered bool, err error) {
	stopWatch := alwaysStopped
	fail := func(err error, unanswered bool) (*http.Response, bool, error) {
		stopWatch()
		_ = pc.Close()
		if ctx.Err() != nil {
			return nil, unanswered, ctx.Err()
		}
		return nil, unanswered, err
	}
	if err := pc.SetDeadline(time.Now().Add(t.requestTimeout)); err != nil {
		closeRequestBody(req)
		return fail(err, true)
	}
	if ctx.Done() != nil {
		// Cancellation interrupts a blocked write or read; the connection
		// is then closed, its state unknown.
		stopWatch = context.AfterFunc(ctx, func() { _ = pc.SetDeadline(aLongTimeAgo) })
	}
	writer := writerPool.Get().(*bufio.Writer)
	writer.Reset(pc)
	err = writeRequest(writer, req)
	if err == nil {
		err = writer.Flush()
	}
	writer.Reset(nil)
	writerPool.Put(writer)
	if err != nil {
		return fail(err, true)
	}
	reader := readerPool.Get().(*bufio.Reader)
	reader.Reset(pc)
	pc.limitReads(MaxAnswerHeader, errAnswerHeaderTooLarge)
	if _, err := reader.Peek(1); err != nil {
		putReader(reader)
		return fail(err, true)
	}
	resp, err = readFinalAnswer(reader, req)
	if err != nil {
		putReader(reader)
		return fail(err, false)
	}
	// What the reader holds already is the body's start.
	pc.limitReads(MaxAnswerBody-int64(reader.Buffered()), ErrAnswerBodyTooLarge)
	body := &connBody{
		body: resp.Body, ctx: ctx, transport: t, pc: pc, reader: reader, stopWatch: stopWatch,
		keepAlive: !resp.Close && !req.Close,
	}
	if resp.Body == http.NoBody {
		body.release(body.keepAlive)
		return resp, false, nil
	}
	resp.Body = body
	return resp, false, nil
}

func alwaysStopped() bool { return true }

// readFinalAnswer reads the answer to req. A server may send informational
// (1xx) answers before it, such as 100 Continue or 103 Early Hints, and a
// client must skip them (RFC 9110 §15.2); taken for the answer, they would
// leave the real one to be read as the next request's. 101 Switching
// Protocols is final, and bos never asks for it.
func readFinalAnswer(reader *bufio.Reader, req *http.Request) (*http.Response, error) {
	for informational := 0; ; informational++ {
		if resp, ok := readSimpleAnswer(reader, req); ok {
			return resp, nil
		}
		resp, err := http.ReadResponse(reader, req)
		switch {
		case err != nil:
			return nil, err
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("answered 101 Switching Protocols, which bos never asks for")
		case resp.StatusCode < 100 || resp.StatusCode > 199:
			return resp, nil
		case informational == maxInformational:
			return nil, fmt.Errorf("more than %d informational (1xx) answers before the answer", maxInformational)
		}
	}
}

// stale says whether the idle connection can no longer carry a request:
// the BMC has closed it, or sent bytes nobody asked for.
func (pc *persistConn) stale() bool { return pc.probe.stale(pc.Conn) }

// limitReads lets the connection's next reads take at most limit bytes;
// past that they fail with tooLarge.
func (pc *persistConn) limitReads(limit int64, tooLarge *AnswerTooLargeError) {
	pc.readBudget, pc.overBudget = limit, tooLarge
}

// Read reads within the answer's budget (see limitReads). It is what the
// answer's reader reads from; writes go to the connection directly.
func (pc *persistConn) Read(p []byte) (int, error) {
	if pc.readBudget <= 0 {
		return 0, pc.overBudget
	}
	if int64(len(p)) > pc.readBudget {
		p = p[:pc.readBudget]
	}
	n, err := pc.Conn.Read(p)
	pc.readBudget -= int64(n)
	return n, err
}

// tlsRecordConn hands crypto/tls one TLS record at a time. crypto/tls
// otherwise reads whatever the socket holds, so bytes a BMC sent after
// its answer (a body after a 204) would wait in crypto/tls's buffer, out
// of sight of the idle check, which peeks at the socket, and be read as
// the next request's answer. Reading a record's header apart costs a
// system call per record; reading its body in the same call spares
// crypto/tls a second read, and its allocation.
type tlsRecordConn struct {
	net.Conn
	header    [tlsRecordHeaderLen]byte
	headerLen int // bytes of the next record's header read so far
	left      int // bytes of the current record not yet read
}

const tlsRecordHeaderLen = 5 // type, version (2), length (2)

func (c *tlsRecordConn) Read(p []byte) (int, error) {
	if c.left > 0 {
		return c.readRecordBody(p)
	}
	n, err := c.Conn.Read(p[:min(len(p), tlsRecordHeaderLen-c.headerLen)])
	c.headerLen += copy(c.header[c.headerLen:], p[:n])
	if c.headerLen < tlsRecordHeaderLen {
		return n, err
	}
	c.left = int(c.header[3])<<8 | int(c.header[4])
	c.headerLen = 0
	if err != nil || c.left == 0 || n == len(p) {
		return n, err
	}
	more, err := c.readRecordBody(p[n:])
	return n + more, err
}

func (c *tlsRecordConn) readRecordBody(p []byte) (int, error) {
	n, err := c.Conn.Read(p[:min(len(p), c.left)])
	c.left -= n
	return n, err
}

// NetConn is the connection underneath, as tls.Conn's NetConn is.
func (c *tlsRecordConn) NetConn() net.Conn { return c.Conn }

func putReader(reader *bufio.Reader) {
	reader.Reset(nil)
	readerPool.Put(reader)
}

// connBody is an answer's body; reading it to the end or closing it ends
// the exchange. It is not safe for concurrent use, as bos never shares a
// body; cancel the request's context to interrupt a blocked Read.
type connBody struct {
	body      io.ReadCloser // the answer's own body reader, over reader
	ctx       context.Context
	transport *Transport
	pc        *persistConn // nil once released
	reader    *bufio.Reader
	stopWatch func() bool
	keepAlive bool  // neither side asked to close
	endErr    error // what Read returns once released
}

func (b *connBody) Read(p []byte) (int, error) {
	if b.pc == nil {
		return 0, b.endErr
	}
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.release(b.keepAlive)
		b.endErr = io.EOF
	case err != nil:
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.release(false)
		b.endErr = err
	}
	return n, err
}

// Close keeps the connection when little of the answer is left unread.
func (b *connBody) Close() error {
	if b.pc != nil {
		reusable := false
		if b.keepAlive && b.ctx.Err() == nil {
			_, err := io.CopyN(io.Discard, b.body, maxDrain)
			reusable = err == io.EOF
		}
		b.release(reusable)
	}
	b.endErr = errBodyClosed
	return nil
}

// release hands the connection back; it is reusable only when the answer
// ended cleanly, cancellation has not touched its deadline, and no bytes
// beyond the answer arrived.
func (b *connBody) release(reusable bool) {
	reusable = b.stopWatch() && reusable && b.reader.Buffered() == 0
	putReader(b.reader)
	b.transport.release(b.pc, reusable)
	b.pc, b.reader = nil, nil
}

// peerHadClosed says whether a write or read failed because the peer had
// closed the connection.
func peerHadClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// replayable says whether req may be sent twice: its method is idempotent
// and its body, if any, can be read again.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodPut, "":
		return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	}
	return false
}

// rewound is req ready to be sent again, with a fresh body.
func rewound(req *http.Request) (*http.Request, bool) {
	if !replayable(req) {
		return nil, false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return req, true
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	retry := req.WithContext(req.Context())
	retry.Body = body
	return retry, true
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
