package bmc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/bos-project/bos/internal/inventory"
)

// authMode is how an endpoint's requests authenticate.
type authMode uint8

const (
	// authAuto is decided on reading the service root: a Redfish session
	// where it advertises a SessionService, else Basic auth.
	authAuto authMode = iota
	authSession
	authBasic
)

// configuredAuth is the inventory's choice; anything but session and basic
// (the inventory accepts only auto besides) is auto.
func configuredAuth(access inventory.BMC) authMode {
	switch {
	case strings.EqualFold(access.Auth, "session"):
		return authSession
	case strings.EqualFold(access.Auth, "basic"):
		return authBasic
	default:
		return authAuto
	}
}

// LoginError is a BMC that refused bos's credentials, or one bos will not
// try to log in to as the inventory says. It stands for the rest of the
// Pool's life (one command): every node behind that BMC gets it at once,
// and the BMC is not asked again, since each refused attempt moves its
// account closer to a lockout. Its text names the cause only, so that the
// nodes of many BMCs failing alike read alike; the -v log names the BMC
// and what it answered.
type LoginError struct {
	Endpoint string
	Reason   string
	err      error // the BMC's answer, if any
}

func (e *LoginError) Error() string { return e.Reason }

func (e *LoginError) Unwrap() error { return e.err }

// Hint is advice about a BMC's inventory entry, learnt from how it
// answered: following it makes the next command cheaper or quieter.
type Hint struct {
	Endpoint string
	Advice   string
}

// Hints returns the advice the Pool's BMCs gave rise to so far, one per BMC
// at most, in inventory order.
func (p *Pool) Hints() []Hint {
	var hints []Hint
	for _, ep := range p.endpoints {
		ep.mu.Lock()
		advice := ep.hint
		ep.mu.Unlock()
		if advice != "" {
			hints = append(hints, Hint{Endpoint: ep.url, Advice: advice})
		}
	}
	return hints
}

// maxHintEndpoints bounds how many BMCs a grouped hint names.
const maxHintEndpoints = 5

// GroupHints turns hints into one line per piece of advice, naming the
// BMCs it concerns (a few of them, and how many more), so that 10,000 BMCs
// alike make one line.
func GroupHints(hints []Hint) []string {
	var (
		order    []string
		byAdvice = make(map[string][]string)
	)
	for _, h := range hints {
		if _, seen := byAdvice[h.Advice]; !seen {
			order = append(order, h.Advice)
		}
		byAdvice[h.Advice] = append(byAdvice[h.Advice], h.Endpoint)
	}
	lines := make([]string, 0, len(order))
	for _, advice := range order {
		endpoints := byAdvice[advice]
		named := strings.Join(endpoints[:min(len(endpoints), maxHintEndpoints)], ", ")
		if more := len(endpoints) - maxHintEndpoints; more > 0 {
			named += fmt.Sprintf(" and %d more", more)
		}
		lines = append(lines, fmt.Sprintf("%s (bmc %s)", advice, named))
	}
	return lines
}

func (ep *endpoint) usesBasic() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.auth == authBasic
}

// credential is the header that authenticates the endpoint's requests: the
// Basic credentials once the BMC has accepted them, else the session token
// (empty before login).
func (ep *endpoint) credential() (header, value string) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.basicAuth != "" {
		return "Authorization", ep.basicAuth
	}
	return "X-Auth-Token", ep.token
}

// refusedLogin is the login failure that stands for this Pool, if any.
func (ep *endpoint) refusedLogin() error {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.loginRefused
}

// refuseLogin makes err the endpoint's answer to every later call, unless
// an earlier refusal already is, and returns the one that stands.
func (ep *endpoint) refuseLogin(err error) error {
	ep.mu.Lock()
	first := ep.loginRefused == nil
	if first {
		ep.loginRefused = err
		ep.basicAuth = ""
	}
	standing := ep.loginRefused
	ep.mu.Unlock()
	if first {
		detail := ""
		var refusal *LoginError
		if errors.As(err, &refusal) && refusal.err != nil {
			detail = fmt.Sprintf(" (it answered %v)", refusal.err)
		}
		ep.pool.logf("bmc %s: %v; no other login is tried in this command%s", ep.url, err, detail)
	}
	return standing
}

// chooseAuth settles auto on the service root's word.
func (ep *endpoint) chooseAuth(links serviceLinks) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.auth != authAuto {
		return
	}
	ep.auth = authSession
	if !links.sessionsAdvertised {
		ep.auth = authBasic
		ep.pool.logf("bmc %s: the service root advertises no SessionService; using Basic auth", ep.url)
	}
}

// login connects if needed and authenticates as the endpoint's auth says:
// it opens a Redfish session, or has the BMC accept the Basic credentials
// once. Callers hold connectGate, so concurrent first calls share one
// login, and its failure.
func (ep *endpoint) login(ctx context.Context) (*gofish.APIClient, uint64, error) {
	if ep.pool.closed.Load() {
		return nil, 0, ErrClosed
	}
	ep.mu.Lock()
	client, links, refused := ep.client, ep.links, ep.loginRefused
	ep.mu.Unlock()
	if refused != nil {
		return nil, 0, refused
	}
	if client == nil {
		var err error
		if client, links, err = ep.dial(ctx); err != nil {
			return nil, 0, err
		}
		ep.mu.Lock()
		ep.client, ep.links = client, links
		ep.mu.Unlock()
		ep.chooseAuth(links)
	}
	if !ep.usesBasic() {
		generation, err := ep.openSession(ctx, client, links)
		if err == nil || !ep.fallsBackToBasic(err) {
			return client, generation, err
		}
		ep.mu.Lock()
		ep.auth, ep.sessionRefusal = authBasic, httpStatus(err)
		ep.mu.Unlock()
		ep.pool.logf("bmc %s: %v; trying Basic auth", ep.url, err)
	}
	return client, 0, ep.checkBasic(ctx, links)
}

// openSession logs in and keeps the session, returning its generation.
func (ep *endpoint) openSession(ctx context.Context, client *gofish.APIClient, links serviceLinks) (uint64, error) {
	if !links.sessionsAdvertised {
		// Guessing the specification's URI would be a login the BMC
		// said nothing of.
		return 0, ep.refuseLogin(&LoginError{Endpoint: ep.url,
			Reason: "the BMC advertises no SessionService: set auth: basic (or auto)"})
	}
	// A login is never abandoned half way, even when the session is
	// cancelled: the BMC would create a session whose token never reached
	// us, which nobody could log out of (BMCs allow only a few). It is
	// bounded by the request timeout instead, and Close logs it out.
	loginCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ep.pool.opts.RequestTimeout)
	token, sessionURI, err := ep.createSession(loginCtx, client, links.sessions)
	cancel()
	if err != nil {
		return 0, ep.sessionRefused(err)
	}
	ep.mu.Lock()
	ep.token, ep.sessionURI = token, sessionURI
	ep.generation++
	generation := ep.generation
	ep.mu.Unlock()
	ep.pool.stats.logins.Add(1)
	ep.pool.logf("bmc %s: logged in (session %s)", ep.url, sessionURI)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return generation, nil
}

// sessionRefused tells a refusal of the credentials, which stands, from
// failures a later login may get past.
func (ep *endpoint) sessionRefused(err error) error {
	var foreign *ForeignLinkError
	switch status := httpStatus(err); {
	case errors.As(err, &foreign):
		// The BMC opened a session bos cannot log out of (it is left to
		// time out), and each new login would open another.
		return ep.refuseLogin(err)
	case status == http.StatusUnauthorized:
		return ep.refuseLogin(&LoginError{Endpoint: ep.url, Reason: "wrong username or password (HTTP 401 on session login)", err: err})
	case status == http.StatusForbidden:
		return ep.refuseLogin(&LoginError{Endpoint: ep.url,
			Reason: "session login forbidden (HTTP 403): the account may be locked or lack the Login privilege", err: err})
	case sessionsUnsupported(err) && configuredAuth(ep.access) == authSession:
		return fmt.Errorf("%w; set auth: basic (or auto) if the BMC offers no Redfish sessions", err)
	}
	return err
}

// fallsBackToBasic says whether auto may try Basic auth after err: the
// session login was refused as such, not for its credentials, so trying
// Basic is not a second failed login.
func (ep *endpoint) fallsBackToBasic(err error) bool {
	return configuredAuth(ep.access) == authAuto && sessionsUnsupported(err)
}

// sessionsUnsupported says whether a session login's answer means the BMC
// takes no session logins: no such resource or method, or a 400 saying so.
func sessionsUnsupported(err error) bool {
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) {
		return false
	}
	switch httpErr.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	case http.StatusBadRequest:
		text := strings.ToLower(httpErr.MessageID + " " + httpErr.Message)
		// Not "disabled" alone: a disabled account is about the
		// credentials, and Basic would be a second failed login.
		for _, word := range []string{"notsupported", "not supported", "unsupported", "servicedisabled", "service is disabled"} {
			if strings.Contains(text, word) {
				return true
			}
		}
	}
	return false
}

// checkBasic sends the Basic credentials in one request, alone, before any
// other request carries them: each request a BMC refuses counts toward
// locking the account, so the first requests of many nodes must not all
// be refused. Any other answer than 401, unless worth retrying, shows the
// BMC took them.
func (ep *endpoint) checkBasic(ctx context.Context, links serviceLinks) error {
	header := "Basic " + base64.StdEncoding.EncodeToString([]byte(ep.access.Username+":"+ep.access.Password))
	resp, err := ep.getWith(ctx, links.systems, "Authorization", header)
	schemas.DeferredCleanupHTTPResponse(resp)
	if err != nil {
		if err = ep.explainUnlessCancelled(ctx, err); ctx.Err() != nil {
			return err
		}
		if httpStatus(err) == http.StatusUnauthorized {
			return ep.refuseLogin(ep.basicRefused(err))
		}
		if httpStatus(err) == 0 || retryable(err) {
			return err
		}
	}
	ep.mu.Lock()
	ep.basicAuth = header
	if ep.sessionRefusal != 0 {
		ep.hint = fmt.Sprintf("session login refused (HTTP %d), basic accepted: set auth: basic to skip the attempt", ep.sessionRefusal)
	}
	hint := ep.hint
	ep.mu.Unlock()
	if hint != "" {
		ep.pool.logf("bmc %s: %s", ep.url, hint)
	}
	return nil
}

// basicRefused is the error for Basic credentials refused with err, saying
// why Basic was used where the inventory left the choice to bos.
func (ep *endpoint) basicRefused(err error) *LoginError {
	reason := "wrong username or password (Basic auth refused)"
	if configuredAuth(ep.access) == authAuto {
		ep.mu.Lock()
		sessionRefusal := ep.sessionRefusal
		ep.mu.Unlock()
		if sessionRefusal != 0 {
			reason = fmt.Sprintf("wrong username or password (Basic auth refused after session login got HTTP %d)", sessionRefusal)
		} else {
			reason = "wrong username or password (Basic auth refused; the BMC advertises no SessionService)"
		}
	}
	return &LoginError{Endpoint: ep.url, Reason: reason, err: err}
}

// reauthenticate answers a request refused with 401: a session the BMC has
// dropped is replaced, unless another caller has done so since generation
// was current; Basic credentials it refuses are not sent again.
func (ep *endpoint) reauthenticate(ctx context.Context, generation uint64, refused error) error {
	if ep.usesBasic() {
		return ep.refuseLogin(ep.basicRefused(refused))
	}
	ep.pool.logf("bmc %s: session no longer valid, logging in again", ep.url)
	return ep.relogin(ctx, generation)
}

// createSession logs in. The session's URI comes from the Location header
// or, where a BMC omits it, from the answer's @odata.id.
func (ep *endpoint) createSession(ctx context.Context, client *gofish.APIClient, sessionsURI string) (token, sessionURI string, err error) {
	credentials := struct{ UserName, Password string }{ep.access.Username, ep.access.Password}
	resp, err := client.WithContext(ctx).Post(sessionsURI, credentials)
	defer schemas.DeferredCleanupHTTPResponse(resp)
	if err != nil {
		return "", "", fmt.Errorf("session login: %w", ep.explainUnlessCancelled(ctx, err))
	}
	// Clone: the answer's header values share one string, which the token
	// would otherwise keep alive for the whole session.
	token = strings.Clone(resp.Header.Get("X-Auth-Token"))
	if token == "" {
		return "", "", fmt.Errorf("session login: the BMC answered %d without an X-Auth-Token; set auth: basic for it",
			resp.StatusCode)
	}
	link := strings.Clone(resp.Header.Get("Location"))
	if link == "" {
		var body struct {
			ODataID string `json:"@odata.id"`
		}
		// A 201 without a body is fine; the URI is then unknown.
		_ = json.NewDecoder(io.LimitReader(resp.Body, maxLoginBody)).Decode(&body)
		link = body.ODataID
	}
	// The session is logged out at this URI, with the token: it must be
	// the BMC's own.
	if sessionURI, err = ep.resolve(link); err != nil {
		return "", "", fmt.Errorf("session login: %w", err)
	}
	return token, sessionURI, nil
}
