// Package bmc drives nodes' baseboard management controllers over Redfish
// (with gofish). A Pool maps inventory node names to BMC endpoints; nodes
// behind one BMC share its HTTP connections, its single Redfish session and
// its bound on in-flight requests.
package bmc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stmcginnis/gofish/schemas"
	"golang.org/x/sync/errgroup"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
)

// Options tune how hard a Pool leans on each BMC.
type Options struct {
	// MaxRequestsPerBMC bounds in-flight requests per BMC endpoint (default
	// 2): BMCs are small computers and some fall over under load.
	MaxRequestsPerBMC int
	// RequestTimeout bounds connecting to and reading from a BMC, per
	// request (default 20s).
	RequestTimeout time.Duration
	// Retries is how often a request is re-sent after a connection error,
	// a 5xx or a 409 (default 3). Negative means none.
	Retries int
	// RetryBackoff is the first wait before a retry, doubled each time
	// (default 1s).
	RetryBackoff time.Duration
	// LogoutTimeout bounds each BMC's logout at Close (default 5s), a
	// budget of its own whatever Close's context: one silent BMC then
	// holds neither Close nor the other BMCs' logouts for long.
	LogoutTimeout time.Duration
	// DisableEvents keeps the Pool from opening BMCs' event streams: their
	// nodes are polled, for BMCs whose events misbehave.
	DisableEvents bool
	// Log, when set, receives -v diagnostics. Credentials and session
	// tokens are never passed to it.
	Log func(format string, args ...any)
}

const (
	defaultMaxRequestsPerBMC = 2
	defaultRequestTimeout    = 20 * time.Second
	defaultRetries           = 3
	defaultRetryBackoff      = time.Second
	defaultLogoutTimeout     = 5 * time.Second
	// maxBackoffFactor caps the doubling so a long retry series still
	// polls a recovering BMC reasonably often.
	maxBackoffFactor = 16
	// closeConcurrency bounds parallel logouts so closing 10,000 sessions
	// takes seconds, not minutes, without a burst of 10,000 connections.
	closeConcurrency = 64
)

// DefaultOptions are the settings a zero field of Options takes; the
// settings that tune the driver take their defaults from them.
func DefaultOptions() Options {
	return Options{MaxRequestsPerBMC: defaultMaxRequestsPerBMC, RequestTimeout: defaultRequestTimeout,
		Retries: defaultRetries, RetryBackoff: defaultRetryBackoff, LogoutTimeout: defaultLogoutTimeout}
}

func (o Options) withDefaults() Options {
	if o.MaxRequestsPerBMC <= 0 {
		o.MaxRequestsPerBMC = defaultMaxRequestsPerBMC
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultRequestTimeout
	}
	if o.Retries == 0 {
		o.Retries = defaultRetries
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = defaultRetryBackoff
	}
	if o.LogoutTimeout <= 0 {
		o.LogoutTimeout = defaultLogoutTimeout
	}
	return o
}

// Stats counts what a Pool has done, for tests and benchmarks.
type Stats struct {
	Requests int64 // HTTP requests sent, including logins and logouts
	Logins   int64 // Redfish sessions created
	Logouts  int64 // Redfish sessions deleted
	Retries  int64 // requests re-sent after a retryable failure
	// Connections counts TCP connections opened to BMCs (not those through
	// a proxy): one per BMC when keep-alive holds.
	Connections int64
}

// String is the counters as session.log shows them.
func (s Stats) String() string {
	return fmt.Sprintf("%d requests, %d connections, %d logins, %d logouts, %d retries",
		s.Requests, s.Connections, s.Logins, s.Logouts, s.Retries)
}

type counters struct {
	requests, logins, logouts, retries atomic.Int64
}

// Pool is the Redfish driver for a set of inventory nodes. It is safe for
// concurrent use; connections and sessions are opened on first use.
type Pool struct {
	opts      Options
	nodes     map[string]*nodeRef
	endpoints []*endpoint
	// transports are shared by endpoints with the same TLS settings;
	// Close drops their idle connections.
	transports transportCache
	stats      counters
	// streamsCtx ends the BMCs' event streams, streams tracks them.
	streamsCtx   context.Context
	closeStreams context.CancelFunc
	streams      sync.WaitGroup

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

// nodeRef is where a node lives: its BMC and its system on that BMC, or why
// it cannot be reached (reported on every call rather than at NewPool, so
// one bad inventory entry does not stop the other nodes).
type nodeRef struct {
	endpoint *endpoint
	system   *systemRef
	err      error
}

// NewPool prepares a driver for nodes. Nothing is contacted until a node is
// first used.
func NewPool(nodes []inventory.Node, opts Options) *Pool {
	p := &Pool{opts: opts.withDefaults(), nodes: make(map[string]*nodeRef, len(nodes)), transports: make(transportCache)}
	p.streamsCtx, p.closeStreams = context.WithCancel(context.Background())
	byURL := make(map[string]*endpoint)
	firstNode := make(map[string]string)
	for _, node := range nodes {
		// The endpoint is scheme and host; a pasted service root URL works too.
		url := strings.TrimSuffix(strings.TrimRight(node.BMC.Endpoint, "/"), "/redfish/v1")
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			p.nodes[node.Name] = &nodeRef{err: reason.At(fmt.Sprintf("bmc endpoint %q", node.BMC.Endpoint), errNotHTTP)}
			continue
		}
		ep, seen := byURL[url]
		if !seen {
			ep = newEndpoint(p, url, node.BMC)
			byURL[url] = ep
			firstNode[url] = node.Name
			p.endpoints = append(p.endpoints, ep)
		} else if !sameAccess(ep.access, node.BMC) {
			p.nodes[node.Name] = &nodeRef{err: reason.At(fmt.Sprintf("bmc %s (as node %s's)", url, firstNode[url]), errSharedAccess)}
			continue
		}
		p.nodes[node.Name] = &nodeRef{endpoint: ep, system: ep.systemRef(node.BMC.System)}
	}
	p.transports.cacheTLSSessions()
	return p
}

var (
	errNotHTTP      = errors.New("not an http:// or https:// URL")
	errSharedAccess = errors.New("shared with another node but with different credentials, auth or TLS settings; one BMC takes one set")
)

func sameAccess(a, b inventory.BMC) bool {
	return a.Username == b.Username && a.Password == b.Password && a.CAFile == b.CAFile &&
		a.Insecure == b.Insecure && configuredAuth(a) == configuredAuth(b)
}

func (p *Pool) logf(format string, args ...any) {
	if p.opts.Log != nil {
		p.opts.Log(format, args...)
	}
}

// Stats returns a snapshot of the Pool's counters.
func (p *Pool) Stats() Stats {
	return Stats{
		Requests:    p.stats.requests.Load(),
		Logins:      p.stats.logins.Load(),
		Logouts:     p.stats.logouts.Load(),
		Retries:     p.stats.retries.Load(),
		Connections: p.transports.dialed(),
	}
}

// NotAnswering is how many requests, one node's each, wait now on BMCs
// whose last request got no answer in time (retries and their back-off
// included): nodes held by hung BMCs, which a progress display names, as
// they would otherwise look like nodes at work.
func (p *Pool) NotAnswering() int {
	n := 0
	for _, ep := range p.endpoints {
		if ep.silent.Load() {
			n += int(ep.waiting.Load())
		}
	}
	return n
}

// nodeError is err, met doing op on node, as the Pool's callers get it: its
// text names the node and its BMC, for logs; its reason (package reason)
// is err's alone, the same on every node with that cause, so that their
// failures group.
func (p *Pool) nodeError(node, op string, err error) error {
	where := "node " + node
	if ref := p.nodes[node]; ref != nil && ref.endpoint != nil {
		where += " (bmc " + ref.endpoint.url + ")"
	}
	return reason.At(where+": "+op, err)
}

func (p *Pool) node(name string) (*nodeRef, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	ref, ok := p.nodes[name]
	if !ok {
		return nil, ErrUnknownNode
	}
	if ref.err != nil {
		return nil, ref.err
	}
	return ref, nil
}

// PowerState reads the node's power state. A BMC that cannot say yet (null,
// "Unknown", or anything unexpected) yields power.Unknown, not an error.
func (p *Pool) PowerState(ctx context.Context, node string) (power.State, error) {
	ref, err := p.node(node)
	if err != nil {
		return power.Unknown, p.nodeError(node, "power state", err)
	}
	var fields struct{ PowerState schemas.PowerState }
	if err := p.readFields(ctx, ref, &fields); err != nil {
		return power.Unknown, p.nodeError(node, "power state", err)
	}
	return powerState(fields.PowerState), nil
}

func powerState(state schemas.PowerState) power.State {
	switch state {
	case schemas.OnPowerState:
		return power.On
	case schemas.OffPowerState:
		return power.Off
	case schemas.PoweringOnPowerState:
		return power.PoweringOn
	case schemas.PoweringOffPowerState:
		return power.PoweringOff
	default:
		return power.Unknown
	}
}

// Reset carries out action with the best reset type the node's BMC offers
// (see resetPreferences) and returns the type the BMC accepted. Where the
// BMC does not say what it offers, types are tried in preference order,
// moving on when one is refused as unsupported (400/501). An error
// wrapping ErrResetUnsupported means no type fits the action, and nothing
// was sent. A reset that may have reached the BMC without an answer
// (timeout, dropped connection) is sent again only if the node's power
// state shows it is still needed; if it shows the reset carried out, Reset
// succeeds.
func (p *Pool) Reset(ctx context.Context, node string, action power.Action) (string, error) {
	ref, err := p.node(node)
	if err != nil {
		return "", p.nodeError(node, "reset "+string(action), err)
	}
	info, candidates, err := p.resetCandidates(ctx, ref, action)
	if err != nil {
		return "", p.nodeError(node, "reset "+string(action), err)
	}
	// A reset whose answer was lost may have been carried out: sent again
	// blindly, a GracefulShutdown would meet a node already powering off
	// (409s, or worse). So the power state decides.
	landed := func(ctx context.Context) (bool, error) {
		state, err := p.PowerState(ctx, node)
		return action.InEffect(state), err
	}
	ref.system.changing()
	var lastErr error
	for _, resetType := range candidates {
		answerLost, err := ref.endpoint.doUnlessLanded(ctx, landed, func(c *call) error {
			payload := struct{ ResetType schemas.ResetType }{resetType}
			resp, _, err := schemas.PostWithTask(c.client(), info.target, payload, nil, false)
			schemas.DeferredCleanupHTTPResponse(resp)
			return err
		})
		if answerLost {
			p.logf("node %s: reset %s: the answer to %s was lost, but the BMC carried it out", node, action, resetType)
			return string(resetType), nil
		}
		if err == nil {
			p.logf("node %s: reset %s: sent %s", node, action, resetType)
			return string(resetType), nil
		}
		lastErr = p.nodeError(node, "reset "+string(action), fmt.Errorf("reset type %s: %w", resetType, err))
		if !unsupportedAnswer(err) {
			return "", lastErr
		}
		p.logf("%v; trying the next reset type", lastErr)
		if definitelyUnsupported(err) {
			ref.system.reject(resetType)
		}
	}
	return "", lastErr
}

// WhyNoReset says why the node's BMC offers no reset type for action, or
// "" when it offers one or does not say which it offers (they are then
// tried in turn). It sends nothing: it uses the system's first read and
// the reset action's ActionInfo, which Reset needs anyway and which are
// read once per system.
func (p *Pool) WhyNoReset(ctx context.Context, node string, action power.Action) (string, error) {
	ref, err := p.node(node)
	if err != nil {
		return "", p.nodeError(node, "reset "+string(action), err)
	}
	_, _, err = p.resetCandidates(ctx, ref, action)
	if errors.Is(err, ErrResetUnsupported) {
		return err.Error(), nil
	}
	if err != nil {
		return "", p.nodeError(node, "reset "+string(action), err)
	}
	return "", nil
}

// resetCandidates are the reset types to try for action on the node's
// system, best first, with where to post them. An error wrapping
// ErrResetUnsupported says that none fits.
func (p *Pool) resetCandidates(ctx context.Context, ref *nodeRef, action power.Action) (*resetInfo, []schemas.ResetType, error) {
	preferred, ok := resetPreferences[action]
	if !ok {
		return nil, nil, errors.New("unknown power action")
	}
	info, err := p.resetInfo(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	candidates := ref.system.candidates(preferred, info.allowed)
	if len(candidates) == 0 {
		offered := "BMC offers " + joinTypes(info.allowed)
		if info.allowed == nil {
			offered = "BMC refused each of them as unsupported"
		}
		return nil, nil, fmt.Errorf("%w: wanted one of %s, %s", ErrResetUnsupported, joinTypes(preferred), offered)
	}
	return info, candidates, nil
}

func joinTypes(types []schemas.ResetType) string {
	if len(types) == 0 {
		return "none"
	}
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Close logs out every Redfish session the Pool opened and then drops its
// idle connections. Each logout has its own budget (Options.LogoutTimeout)
// rather than ctx's deadline, also when ctx is already done: a cancelled
// session does not leave sessions behind on BMCs with small session
// limits, and a BMC that does not answer costs Close one budget rather
// than a request timeout. ctx passes on only its values. Later calls
// return the first call's result.
func (p *Pool) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		// Streams end before the logouts: they hold the sessions' tokens.
		p.closeStreams()
		p.streams.Wait()
		var (
			mu   sync.Mutex
			errs []error
		)
		var group errgroup.Group
		group.SetLimit(closeConcurrency)
		for _, ep := range p.endpoints {
			group.Go(func() error {
				logoutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.LogoutTimeout)
				defer cancel()
				if err := ep.logout(logoutCtx); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				return nil
			})
		}
		_ = group.Wait() // every goroutine reports through errs
		p.transports.closeIdle()
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}
