package bmc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/bos-project/bos/internal/bmc/httpconn"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/reason"
)

// idleConnTimeout keeps a BMC's connection open across the engine's polls
// (at most seconds apart) but frees it soon after a session ends, so 10,000
// BMCs do not pin 10,000 sockets for long.
const idleConnTimeout = 30 * time.Second

// maxLoginBody bounds how much of a login answer is read for its @odata.id.
const maxLoginBody = 64 << 10

// endpoint is one BMC: its HTTP client, its gofish client and its Redfish
// session, shared by every node behind it.
type endpoint struct {
	pool       *Pool
	url        string
	origin     origin // the only origin requests go to
	access     inventory.BMC
	httpClient *http.Client
	setupErr   error // bad TLS settings, reported on every use
	systems    map[string]*systemRef

	// connectGate serialises connecting and logging in, so concurrent first
	// calls share one login; waiting for it honours the caller's context.
	connectGate gate

	// waiting counts the exchanges under way (one node's each), retries
	// and their back-off included; silent says the last attempt got no
	// answer in time. Pool.NotAnswering reads both.
	waiting atomic.Int64
	silent  atomic.Bool

	mu     sync.Mutex // guards the fields below
	client *gofish.APIClient
	links  serviceLinks
	// auth starts as the inventory says; auto is settled on reading the
	// service root, and becomes Basic where a session login is refused
	// as unsupported (sessionRefusal is then the status it got).
	auth           authMode
	sessionRefusal int
	token          string
	sessionURI     string
	// basicAuth is the Authorization header, set once the BMC has
	// accepted the Basic credentials.
	basicAuth  string
	generation uint64 // counts logins, so a stale 401 re-logs in only once
	// loginRefused is a login not to be tried again while the Pool lives:
	// the BMC refused the credentials, or the inventory's auth cannot
	// work with it, or its login answer linked elsewhere.
	loginRefused error
	hint         string // advice for the inventory (see Pool.Hints)

	events     eventStream
	eventsOnce sync.Once
}

// serviceLinks are the service root links the driver follows.
type serviceLinks struct {
	sessions string
	systems  string
	// sessionsAdvertised: the root names a SessionService or
	// Links.Sessions, else sessions is only the specification's default.
	sessionsAdvertised bool
	events             string // the EventService; empty when the root names none
}

// gate is a lock that can be waited for with a context.
type gate chan struct{}

func newGate() gate { return make(gate, 1) }

func (g gate) enter(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g gate) leave() { <-g }

func newEndpoint(p *Pool, endpointURL string, access inventory.BMC) *endpoint {
	ep := &endpoint{
		pool:        p,
		url:         endpointURL,
		access:      access,
		systems:     make(map[string]*systemRef),
		connectGate: newGate(),
		auth:        configuredAuth(access),
	}
	base, err := parseEndpoint(endpointURL)
	if err != nil {
		ep.setupErr = fmt.Errorf("bmc endpoint: %w", err)
		return ep
	}
	ep.origin = originOf(base)
	transport, err := p.transports.get(access, endpointURL, p.opts)
	if err != nil {
		ep.setupErr = err
		return ep
	}
	ep.httpClient = &http.Client{
		Transport:     &sessionTransport{base: transport, endpoint: ep},
		CheckRedirect: ep.checkRedirect,
	}
	if _, standard := transport.(*http.Transport); standard {
		// bos's own transport bounds each exchange with connection
		// deadlines; a Client timeout would cost a goroutine per request.
		ep.httpClient.Timeout = p.opts.RequestTimeout
	}
	return ep
}

// tlsSettings are what makes two BMCs' transports differ.
type tlsSettings struct {
	caFile   string
	insecure bool
}

// transportCache shares one transport among every BMC with the same TLS
// settings: a transport per BMC cost kilobytes each in its TLS config and
// bookkeeping. Connections and their bound are per BMC all the same.
type transportCache map[tlsSettings]*sharedTransport

type sharedTransport struct {
	own       *httpconn.Transport
	proxied   *http.Transport // made for the first BMC reached through a proxy
	tlsConfig *tls.Config
	err       error // bad TLS settings, reported for every BMC using them
	httpsBMCs int   // BMCs using these settings over https
}

// get returns the transport for the BMC at url. A BMC the environment
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) sends through a proxy gets a standard
// http.Transport, which speaks to proxies (CONNECT for https); bos's own
// transport only talks to BMCs directly, which is the common case at scale.
func (c transportCache) get(access inventory.BMC, url string, opts Options) (http.RoundTripper, error) {
	key := tlsSettings{caFile: access.CAFile, insecure: access.Insecure}
	shared, ok := c[key]
	if !ok {
		shared = &sharedTransport{}
		shared.tlsConfig, shared.err = newTLSConfig(key)
		if shared.err == nil {
			shared.own = newOwnTransport(shared.tlsConfig, opts)
		}
		c[key] = shared
	}
	if shared.err != nil {
		return nil, shared.err
	}
	if strings.HasPrefix(url, "https://") {
		shared.httpsBMCs++
	}
	if !throughProxy(url) {
		return shared.own, nil
	}
	if shared.proxied == nil {
		shared.proxied = newProxyTransport(shared.tlsConfig, opts)
	}
	return shared.proxied, nil
}

// throughProxy says whether the environment names a proxy for url. A proxy
// setting that does not parse counts: http.Transport then reports it.
func throughProxy(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u})
	return err != nil || proxy != nil
}

// dialed is how many connections bos's own transports have opened.
func (c transportCache) dialed() int64 {
	var total int64
	for _, shared := range c {
		if shared.own != nil {
			total += shared.own.Dialed()
		}
	}
	return total
}

// cacheTLSSessions gives each TLS setting's transports a cache with room
// for a session per BMC using them, so that a redial (after a BMC or the
// idle timeout closed a connection) resumes the BMC's TLS session rather
// than repeating the full handshake, the costliest part of a connection
// for bos and for the BMC's small CPU. It is called once every BMC has its
// transport, before any is used.
func (c transportCache) cacheTLSSessions() {
	for _, shared := range c {
		if shared.httpsBMCs > 0 {
			shared.tlsConfig.ClientSessionCache = tls.NewLRUClientSessionCache(shared.httpsBMCs)
		}
	}
}

// closeIdle drops every kept-alive connection; in-flight requests finish.
func (c transportCache) closeIdle() {
	for _, shared := range c {
		if shared.own != nil {
			shared.own.CloseIdle()
		}
		if shared.proxied != nil {
			shared.proxied.CloseIdleConnections()
		}
	}
}

func newTLSConfig(settings tlsSettings) (*tls.Config, error) {
	tlsConfig := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Only by the inventory's explicit choice: BMCs with self-signed
		// certificates are common, but verification is the default.
		InsecureSkipVerify: settings.insecure, //nolint:gosec
	}
	if settings.caFile != "" {
		pem, err := os.ReadFile(settings.caFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", settings.caFile)
		}
		tlsConfig.RootCAs = roots
	}
	return tlsConfig, nil
}

// newOwnTransport is bos's own transport, for BMCs reached directly.
func newOwnTransport(tlsConfig *tls.Config, opts Options) *httpconn.Transport {
	return httpconn.New(tlsConfig, httpconn.Options{
		RequestTimeout: opts.RequestTimeout, MaxConnsPerHost: opts.MaxRequestsPerBMC, IdleTimeout: idleConnTimeout})
}

// newProxyTransport is the transport for BMCs behind a proxy, with the
// same bounds as bos's own.
func newProxyTransport(tlsConfig *tls.Config, opts Options) *http.Transport {
	dialer := &net.Dialer{Timeout: opts.RequestTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    opts.RequestTimeout,
		ResponseHeaderTimeout:  opts.RequestTimeout,
		MaxResponseHeaderBytes: httpconn.MaxAnswerHeader,
		MaxConnsPerHost:        opts.MaxRequestsPerBMC,
		MaxIdleConnsPerHost:    opts.MaxRequestsPerBMC,
		IdleConnTimeout:        idleConnTimeout,
	}
}

// sessionTransport adds the endpoint's credential (session token or Basic
// credentials) to every request and counts requests. Keeping it here
// rather than in gofish lets a re-login replace the token for every holder
// of the client, and auto settle on Basic after the client exists. It
// sends nothing beyond the endpoint's origin: links are resolved and
// redirects checked before, but a code path that missed that must not
// leak the token or the credentials.
type sessionTransport struct {
	base     http.RoundTripper
	endpoint *endpoint
}

func (t *sessionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.endpoint.origin.holds(req.URL) {
		// A RoundTripper closes the request body, even when it fails.
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, t.endpoint.refusal("request", req.URL)
	}
	t.endpoint.pool.stats.requests.Add(1)
	header, value := t.endpoint.credential()
	if value != "" && req.Header.Get(header) != value {
		req = req.Clone(req.Context())
		req.Header.Set(header, value)
	}
	return t.base.RoundTrip(req)
}

func (ep *endpoint) currentToken() string {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.token
}

func (ep *endpoint) explain(err error) error {
	return explain(err, ep.url, ep.access.Password)
}

func (ep *endpoint) systemRef(configured string) *systemRef {
	key := normalizePath(configured)
	ref, ok := ep.systems[key]
	if !ok {
		ref = &systemRef{configured: key, loadGate: newGate(), changed: make(chan struct{}, 1)}
		ep.systems[key] = ref
	}
	return ref
}

// call is one attempt of an exchange: its context and the endpoint's gofish
// client, bound to that context only when gofish is used. Polls go around
// gofish (see get): binding copies the client and its Service, about 1 KB
// per request.
type call struct {
	ctx    context.Context
	ep     *endpoint
	shared *gofish.APIClient
	bound  *gofish.APIClient
}

// client is the gofish client bound to the call's context.
func (c *call) client() *gofish.APIClient {
	if c.bound == nil {
		c.bound = c.shared.WithContext(c.ctx)
	}
	return c.bound
}

// maxErrorBody bounds how much of an error answer is kept for its message.
const maxErrorBody = 64 << 10

// get sends a GET for path through the endpoint's HTTP client, with the
// same authentication and error values as gofish but without its request
// path (a context-bound client copy, a semaphore that MaxConnsPerHost
// already provides, header maps): polls are most of bos's requests.
func (c *call) get(path string) (*http.Response, error) {
	header, value := c.ep.credential()
	return c.ep.getWith(c.ctx, path, header, value)
}

// getWith is get authenticated with the header given, if any. Set here,
// sessionTransport need not clone the request to add it.
func (ep *endpoint) getWith(ctx context.Context, path, header, value string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.url+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header["Accept"] = acceptJSON
	if value != "" {
		req.Header[header] = []string{value}
	}
	resp, err := ep.httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		defer schemas.DeferredCleanupHTTPResponse(resp)
		payload, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return nil, schemas.ConstructError(0, []byte(err.Error()))
		}
		return nil, schemas.ConstructError(resp.StatusCode, payload)
	}
	return resp, nil
}

var acceptJSON = []string{"application/json"}

// do runs one Redfish exchange: it connects (or waits for the login in
// progress), runs exchange with a call bound to ctx, re-logs in once if
// the session has expired, and retries with exponential back-off while the
// failure is worth retrying. An exchange that is not idempotent is not
// re-sent when it may have reached the BMC.
func (ep *endpoint) do(ctx context.Context, idempotent bool, exchange func(c *call) error) error {
	_, err := ep.doChecked(ctx, idempotent, nil, exchange)
	return err
}

// landedCheck reads whether the BMC carried out an exchange whose answer
// never came.
type landedCheck func(ctx context.Context) (bool, error)

// doUnlessLanded is do for an exchange that must never be sent twice
// blindly but whose effect can be read back (a reset): when it may have
// reached the BMC, landed is asked, after the back-off, and the exchange
// is sent again only if its effect is not there, within the same retry
// budget. answerLost reports that the BMC carried it out though its answer
// was lost; an error from landed leaves the exchange failed, not re-sent.
func (ep *endpoint) doUnlessLanded(ctx context.Context, landed landedCheck, exchange func(c *call) error) (answerLost bool, err error) {
	return ep.doChecked(ctx, false, landed, exchange)
}

func (ep *endpoint) doChecked(ctx context.Context, idempotent bool, landed landedCheck, exchange func(c *call) error) (bool, error) {
	ep.waiting.Add(1)
	defer ep.waiting.Add(-1)
	reloggedIn := false
	for attempt := 0; ; {
		client, generation, err := ep.connect(ctx)
		if err == nil {
			err = exchange(&call{ctx: ctx, ep: ep, shared: client})
			if ctx.Err() == nil {
				err = ep.explain(err)
			}
			if httpStatus(err) == http.StatusUnauthorized && !reloggedIn {
				reloggedIn = true
				if err = ep.reauthenticate(ctx, generation, err); err == nil {
					continue
				}
			}
		}
		if err == nil {
			ep.silent.Store(false)
			return false, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		ep.silent.Store(gotNoAnswer(err))
		mayHaveLanded := !idempotent && maybeDelivered(err)
		if mayHaveLanded && landed == nil {
			return false, noAnswer(err, ep.pool.opts.RequestTimeout, attempt+1)
		}
		again := retryable(err) && attempt < ep.pool.opts.Retries
		if again {
			attempt++
			wait := backoff(ep.pool.opts.RetryBackoff, attempt)
			ep.pool.logf("bmc %s: %v; retry %d/%d in %s", ep.url, err, attempt, ep.pool.opts.Retries, wait)
			if err := sleep(ctx, wait); err != nil {
				return false, err
			}
		}
		if mayHaveLanded {
			// Asked after the back-off, so the BMC has had time to act, and
			// also when no retry is left: a lost answer is no failure. The
			// check waits on the BMC as an exchange of its own.
			ep.waiting.Add(-1)
			carriedOut, checkErr := landed(ctx)
			ep.waiting.Add(1)
			switch {
			case ctx.Err() != nil:
				return false, ctx.Err()
			case checkErr != nil:
				return false, fmt.Errorf("%w; not sent again, as whether the BMC carried it out could not be read: %s", err, reason.Of(checkErr))
			case carriedOut:
				return true, nil
			}
		}
		if !again {
			return false, noAnswer(err, ep.pool.opts.RequestTimeout, attempt+1)
		}
		ep.pool.stats.retries.Add(1)
	}
}

func backoff(base time.Duration, attempt int) time.Duration {
	factor := 1 << min(attempt-1, 30)
	return base * time.Duration(min(factor, maxBackoffFactor))
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ready returns the client when it can be used as is.
func (ep *endpoint) ready() (*gofish.APIClient, uint64, bool) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ok := ep.client != nil && (ep.basicAuth != "" || ep.token != "")
	return ep.client, ep.generation, ok
}

// connect returns a logged-in client, connecting on first use. A failed
// attempt is not remembered, so the next call tries again, unless the
// BMC refused the credentials (see LoginError): that answer stands, at
// once, without waiting for a login in progress.
func (ep *endpoint) connect(ctx context.Context) (*gofish.APIClient, uint64, error) {
	if ep.setupErr != nil {
		return nil, 0, ep.setupErr
	}
	if client, generation, ok := ep.ready(); ok {
		return client, generation, nil
	}
	if err := ep.refusedLogin(); err != nil {
		return nil, 0, err
	}
	if err := ep.connectGate.enter(ctx); err != nil {
		return nil, 0, err
	}
	defer ep.connectGate.leave()
	if client, generation, ok := ep.ready(); ok {
		return client, generation, nil
	}
	client, generation, err := ep.login(ctx)
	if err == nil {
		ep.startEvents()
	}
	return client, generation, err
}

// relogin replaces a session the BMC no longer accepts, unless another
// caller has done so since generation was current.
func (ep *endpoint) relogin(ctx context.Context, generation uint64) error {
	if err := ep.connectGate.enter(ctx); err != nil {
		return err
	}
	defer ep.connectGate.leave()
	ep.mu.Lock()
	stale := ep.generation == generation
	if stale {
		// The BMC has dropped this session; there is nothing to log out.
		ep.token, ep.sessionURI = "", ""
	}
	ep.mu.Unlock()
	if !stale {
		return nil
	}
	_, _, err := ep.login(ctx)
	return err
}

// dial creates the gofish client and reads the service root links. gofish
// reads the service root on connecting but keeps the links bos follows to
// itself, so its answer is kept on the way past rather than read twice.
func (ep *endpoint) dial(ctx context.Context) (*gofish.APIClient, serviceLinks, error) {
	root := &serviceRootCapture{base: ep.httpClient.Transport}
	config := gofish.ClientConfig{
		Endpoint:              ep.url,
		HTTPClient:            &http.Client{Transport: root, Timeout: ep.httpClient.Timeout, CheckRedirect: ep.checkRedirect},
		ReuseConnections:      true,
		MaxConcurrentRequests: int64(ep.pool.opts.MaxRequestsPerBMC),
	}
	// gofish gets no credentials: sessionTransport adds them once auth
	// is settled, and the service root needs none.
	client, err := gofish.ConnectContext(ctx, config)
	if err != nil {
		return nil, serviceLinks{}, ep.explainUnlessCancelled(ctx, err)
	}
	client.HTTPClient = ep.httpClient
	// gofish keeps the decoded service root (1-3 KB) and copies it on every
	// WithContext; bos needs only its links.
	client.Service = nil
	links, err := ep.parseServiceLinks(root.body)
	if err != nil {
		return nil, serviceLinks{}, ep.explain(err)
	}
	return client, links, nil
}

// maxServiceRoot bounds how much of a service root is kept; real ones are
// a few kilobytes.
const maxServiceRoot = 256 << 10

// serviceRootCapture keeps the body of the successful GET that goes through
// it: gofish.ConnectContext sends exactly one, for the service root (it
// logs in only when given credentials, which bos keeps to itself).
type serviceRootCapture struct {
	base http.RoundTripper
	body []byte
}

func (c *serviceRootCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxServiceRoot+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read service root: %w", err)
	}
	if len(body) > maxServiceRoot {
		return nil, &httpconn.AnswerTooLargeError{Part: "service root", Limit: maxServiceRoot}
	}
	c.body = body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (ep *endpoint) explainUnlessCancelled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ep.explain(err)
}

// parseServiceLinks takes from a service root the links gofish keeps to
// itself. Defaults are the URIs the Redfish specification fixes, for roots
// that omit them.
func (ep *endpoint) parseServiceLinks(body []byte) (serviceLinks, error) {
	var root struct {
		Systems        schemas.Link
		SessionService schemas.Link
		EventService   schemas.Link
		Links          struct{ Sessions schemas.Link }
	}
	if err := json.Unmarshal(body, &root); err != nil {
		return serviceLinks{}, fmt.Errorf("service root: %w", err)
	}
	var (
		links          serviceLinks
		sessionService string
		err            error
	)
	for _, link := range []struct {
		from string
		to   *string
	}{
		{root.Links.Sessions.String(), &links.sessions},
		{root.Systems.String(), &links.systems},
		{root.SessionService.String(), &sessionService},
		{root.EventService.String(), &links.events},
	} {
		if *link.to, err = ep.resolve(link.from); err != nil {
			return serviceLinks{}, fmt.Errorf("service root: %w", err)
		}
	}
	links.sessionsAdvertised = links.sessions != "" || sessionService != ""
	if links.sessions == "" && sessionService != "" {
		links.sessions = strings.TrimRight(sessionService, "/") + "/Sessions"
	}
	if links.sessions == "" {
		links.sessions = "/redfish/v1/SessionService/Sessions"
	}
	if links.systems == "" {
		links.systems = "/redfish/v1/Systems"
	}
	return links, nil
}

// logout deletes the endpoint's session, if any. A session the BMC has
// already forgotten counts as done.
func (ep *endpoint) logout(ctx context.Context) error {
	if err := ep.connectGate.enter(ctx); err != nil {
		return ep.logoutFailed(err)
	}
	defer ep.connectGate.leave()
	ep.mu.Lock()
	client, token, sessionURI := ep.client, ep.token, ep.sessionURI
	ep.mu.Unlock()
	if client == nil {
		return nil
	}
	if token == "" {
		return nil
	}
	if sessionURI == "" {
		ep.pool.logf("bmc %s: cannot log out: the BMC named no session URI at login; the session will time out", ep.url)
		return nil
	}
	// A kept-alive connection the BMC (or a sim over its connection budget)
	// closed while idle costs nothing here: the transport re-sends a DELETE
	// once on a fresh connection, and a 404 for a twice-deleted session
	// counts as done.
	_, err := client.WithContext(ctx).Delete(sessionURI)
	ep.mu.Lock()
	ep.token, ep.sessionURI = "", ""
	ep.mu.Unlock()
	if err != nil {
		err = ep.explainUnlessCancelled(ctx, err)
		if status := httpStatus(err); status == http.StatusUnauthorized || status == http.StatusNotFound {
			return nil
		}
		return ep.logoutFailed(err)
	}
	ep.pool.stats.logouts.Add(1)
	ep.pool.logf("bmc %s: logged out (session %s)", ep.url, sessionURI)
	return nil
}

func (ep *endpoint) logoutFailed(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("bmc %s: log out: not done within %s; the BMC ends the session when it times out",
			ep.url, ep.pool.opts.LogoutTimeout)
	}
	return fmt.Errorf("bmc %s: log out: %w", ep.url, err)
}
