package bmc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/bos-project/bos/internal/bmc/httpconn"
)

// A BMC that offers Redfish Server-Sent Events (its EventService's
// ServerSentEventUri, as OpenBMC's bmcweb does) tells bos of every change
// of its systems the moment it happens: a node waiting for a transition
// then reads its system once per change instead of polling. Each BMC gets
// one stream for the Pool's life, shared by its nodes, on a connection of
// its own (a stream holds its connection for good, which would take a
// request connection from the BMC's bound), read by one goroutine with
// small buffers: 10,000 BMCs are 10,000 streams. Everything the stream
// carries is untrusted: lines and events are bounded, and its URI must be
// at the BMC's own origin, where alone the credentials go.
const (
	// streamBuffer is the read buffer of a stream, and of its answer's
	// header: an event of bmcweb's is about 400 bytes.
	streamBuffer = 512
	// maxEventSize bounds one event (its data lines together) and so
	// every line: past it the stream is dropped as hostile.
	maxEventSize = 16 << 10
	// streamRetries is how often a stream that dropped is opened again
	// before its BMC's nodes go back to polling for the rest of the Pool.
	streamRetries = 2
)

// streamState is where a BMC's event stream stands.
type streamState int32

const (
	streamConnecting streamState = iota
	streamLive
	// streamOff: the BMC has no usable stream; its nodes poll.
	streamOff
)

// eventStream is a BMC's event stream.
type eventStream struct {
	state atomic.Int32 // a streamState
	// why says, once state is streamOff, why its nodes poll; set before
	// the state is stored.
	why string
}

// Watch returns a channel that receives after the node's BMC reported a
// change of its system, when the BMC's event stream is live; otherwise
// nil, and why that BMC's nodes poll once it is known for good (it names
// the BMC, the same for each node behind it). It sends nothing.
func (p *Pool) Watch(node string) (<-chan struct{}, string) {
	ref, err := p.node(node)
	if err != nil || p.opts.DisableEvents {
		return nil, ""
	}
	switch streamState(ref.endpoint.events.state.Load()) {
	case streamLive:
		return ref.system.changed, ""
	case streamOff:
		return nil, ref.endpoint.events.why
	}
	return nil, ""
}

// signal notes a change of the system for the node waiting for one; a
// change already noted is enough.
func (s *systemRef) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// signalAll wakes every node of the BMC: events may have been missed
// (a stream opening or dropping), so each reads its system once.
func (ep *endpoint) signalAll() {
	for _, sys := range ep.systems {
		sys.signal()
	}
}

// startEvents opens the BMC's event stream, once per Pool, after its first
// login: the stream needs the credentials that login settled. The
// EventService is read here, by the caller that logged in, before its own
// request: read alongside it, it would take a second request connection.
func (ep *endpoint) startEvents() {
	if ep.pool.opts.DisableEvents {
		return
	}
	ep.eventsOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ep.pool.streamsCtx, ep.pool.opts.RequestTimeout)
		uri, err := ep.streamURI(ctx)
		cancel()
		ep.pool.streams.Go(func() { ep.watchEvents(ep.pool.streamsCtx, uri, err) })
	})
}

// watchEvents holds the BMC's event stream at uri (unless err says there
// is none) until ctx ends, opening it again after a drop up to
// streamRetries times; then, or when the BMC offers none, its nodes poll.
func (ep *endpoint) watchEvents(ctx context.Context, uri string, err error) {
	for drops := 0; err == nil; drops++ {
		err = ep.readStream(ctx, uri)
		if ctx.Err() != nil {
			return
		}
		ep.events.state.Store(int32(streamConnecting))
		ep.signalAll()
		if drops == streamRetries {
			err = fmt.Errorf("event stream dropped %d times (last: %w)", drops+1, err)
			break
		}
		ep.pool.logf("bmc %s: event stream dropped (%v); opening it again", ep.url, err)
		if sleep(ctx, ep.pool.opts.RetryBackoff) != nil {
			return
		}
		err = nil
	}
	if ctx.Err() != nil {
		return
	}
	ep.events.why = fmt.Sprintf("bmc %s: no events (%s): polling its nodes", ep.url, ep.shown(err.Error()))
	ep.events.state.Store(int32(streamOff))
	ep.signalAll()
}

// streamURI reads the EventService for its ServerSentEventUri, which must
// be at the BMC's origin.
func (ep *endpoint) streamURI(ctx context.Context) (string, error) {
	ep.mu.Lock()
	servicePath := ep.links.events
	ep.mu.Unlock()
	if servicePath == "" {
		return "", errors.New("the service root offers no EventService")
	}
	if throughProxy(ep.url) {
		return "", errors.New("the BMC is reached through a proxy")
	}
	var service struct{ ServerSentEventUri string }
	err := ep.do(ctx, true, func(c *call) error {
		resp, err := c.get(servicePath)
		defer schemas.DeferredCleanupHTTPResponse(resp)
		if err != nil {
			return err
		}
		return json.NewDecoder(io.LimitReader(resp.Body, maxServiceRoot)).Decode(&service)
	})
	if err != nil {
		return "", fmt.Errorf("event service: %w", err)
	}
	if service.ServerSentEventUri == "" {
		return "", errors.New("its EventService offers no ServerSentEventUri")
	}
	return ep.resolve(service.ServerSentEventUri)
}

// readStream opens the stream at path and reads it until it ends, an
// error, or ctx ends. Once open its nodes are woken to read their systems:
// what changed before it opened was not announced.
func (ep *endpoint) readStream(ctx context.Context, path string) error {
	conn, err := ep.dialStream(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	ep.pool.stats.requests.Add(1)
	if err := ep.requestStream(conn, path); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, streamBuffer), nil)
	if err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	// The body is not closed but its connection is: closing a body read
	// this way would first read it to its end, which a stream has not.
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return fmt.Errorf("event stream: HTTP %d %s", resp.StatusCode, ep.shown(resp.Header.Get("Content-Type")))
	}
	conn.left = -1
	ep.events.state.Store(int32(streamLive))
	ep.signalAll()
	return ep.readEvents(bufio.NewReaderSize(resp.Body, streamBuffer))
}

// dialStream connects to the BMC's own origin, over TLS for https.
func (ep *endpoint) dialStream(ctx context.Context) (*limitedConn, error) {
	if ep.setupErr != nil {
		return nil, ep.setupErr
	}
	address := net.JoinHostPort(ep.origin.host, ep.origin.port)
	dialer := net.Dialer{Timeout: ep.pool.opts.RequestTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("event stream: %w", err)
	}
	if ep.origin.scheme == "https" {
		config := ep.pool.transports[tlsSettings{caFile: ep.access.CAFile, insecure: ep.access.Insecure}].tlsConfig.Clone()
		config.ServerName = ep.origin.host
		tlsConn := tls.Client(conn, config)
		handshakeCtx, cancel := context.WithTimeout(ctx, ep.pool.opts.RequestTimeout)
		defer cancel()
		if err := tlsConn.HandshakeContext(handshakeCtx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("event stream: %w", err)
		}
		conn = tlsConn
	}
	return &limitedConn{Conn: conn, left: httpconn.MaxAnswerHeader}, nil
}

// requestStream sends the stream's GET with the BMC's credential: path is
// at its origin (see streamURI) and so is the connection.
func (ep *endpoint) requestStream(conn net.Conn, path string) error {
	target := &url.URL{Scheme: ep.origin.scheme, Host: net.JoinHostPort(ep.origin.host, ep.origin.port), Path: path}
	if !ep.origin.holds(target) {
		return ep.refusal("event stream", target)
	}
	var request bytes.Buffer
	fmt.Fprintf(&request, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n", path, target.Host)
	if header, value := ep.credential(); value != "" {
		fmt.Fprintf(&request, "%s: %s\r\n", header, value)
	}
	request.WriteString("\r\n")
	_ = conn.SetWriteDeadline(time.Now().Add(ep.pool.opts.RequestTimeout))
	_, err := conn.Write(request.Bytes())
	return err
}

// limitedConn bounds what is read from a connection until left is -1: the
// stream's answer header may not be endless.
type limitedConn struct {
	net.Conn
	left int64
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if c.left < 0 {
		return c.Conn.Read(p)
	}
	if c.left == 0 {
		return 0, &httpconn.AnswerTooLargeError{Part: "event stream answer header", Limit: httpconn.MaxAnswerHeader}
	}
	p = p[:min(int64(len(p)), c.left)]
	n, err := c.Conn.Read(p)
	c.left -= int64(n)
	return n, err
}

var errEventTooLarge = fmt.Errorf("an event or line over %d bytes", maxEventSize)

// readEvents reads SSE messages (DSP0266, WHATWG "server-sent events"):
// data lines gather into an event, a blank line ends it.
func (ep *endpoint) readEvents(reader *bufio.Reader) error {
	var data []byte
	for {
		line, err := readLine(reader, maxEventSize-len(data))
		if err != nil {
			return err
		}
		switch {
		case len(line) == 0:
			ep.dispatch(data)
			if cap(data) > streamBuffer {
				data = nil // an event unusually large: its buffer is not kept
			}
			data = data[:0]
		case bytes.HasPrefix(line, dataField):
			data = append(data, bytes.TrimPrefix(line[len(dataField):], space)...)
		}
	}
}

var (
	dataField = []byte("data:")
	space     = []byte(" ")
)

// lineBuffers gather the rare lines longer than a stream's buffer.
var lineBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readLine reads one line, without its end, of at most limit bytes; its
// bytes are valid until the next read.
func readLine(reader *bufio.Reader, limit int) ([]byte, error) {
	line, err := reader.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := lineBuffers.Get().(*bytes.Buffer)
		defer lineBuffers.Put(long)
		long.Reset()
		for errors.Is(err, bufio.ErrBufferFull) {
			if long.Len()+len(line) > limit {
				return nil, errEventTooLarge
			}
			long.Write(line)
			line, err = reader.ReadSlice('\n')
		}
		long.Write(line)
		line = long.Bytes()
	}
	if err != nil {
		return nil, err
	}
	if len(line) > limit {
		return nil, errEventTooLarge
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// dispatch wakes the nodes whose systems an event names. An event about
// anything else, or that does not parse, wakes none.
func (ep *endpoint) dispatch(data []byte) {
	if len(data) == 0 {
		return
	}
	var event struct {
		Events []struct{ OriginOfCondition json.RawMessage }
	}
	if json.Unmarshal(data, &event) != nil {
		return
	}
	for _, record := range event.Events {
		var origin string
		var link struct {
			ID string `json:"@odata.id"`
		}
		switch {
		case json.Unmarshal(record.OriginOfCondition, &link) == nil:
			origin = link.ID
		case json.Unmarshal(record.OriginOfCondition, &origin) == nil:
		}
		// A link elsewhere names nothing of this BMC's.
		if resolved, err := ep.resolve(origin); err == nil && resolved != "" {
			ep.systemChanged(normalizePath(resolved))
		}
	}
}

// systemChanged signals the systems at or above origin, a resource path.
func (ep *endpoint) systemChanged(origin string) {
	for _, sys := range ep.systems {
		systemPath, _ := sys.knownPath()
		systemPath = normalizePath(systemPath)
		if systemPath != "" && (origin == systemPath || strings.HasPrefix(origin, systemPath+"/")) {
			sys.signal()
		}
	}
}
