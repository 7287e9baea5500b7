package bmc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// origin is where a BMC is: scheme, host and port. Its credentials and
// session token go there and nowhere else, so every link it sends and
// every redirect must lead back there.
type origin struct {
	scheme string
	host   string // lower case, without brackets
	port   string // the scheme's default when the URL names none
}

func originOf(u *url.URL) origin {
	return origin{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: portOf(u)}
}

func portOf(u *url.URL) string {
	if port := u.Port(); port != "" {
		return port
	}
	switch u.Scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// holds says whether u is at this origin and carries no user info (which
// net/http would turn into an Authorization header). It allocates
// nothing: every request is checked.
func (o origin) holds(u *url.URL) bool {
	return u.User == nil && u.Scheme == o.scheme && strings.EqualFold(u.Hostname(), o.host) && portOf(u) == o.port
}

// parseEndpoint reads a BMC's URL as the base its links are resolved
// against.
func parseEndpoint(endpointURL string) (*url.URL, error) {
	base, err := url.Parse(endpointURL)
	switch {
	case err != nil || base.Host == "":
		return nil, errors.New("not a URL with a host")
	case base.User != nil:
		// It would show in every log line and error that names the BMC.
		return nil, errors.New("the URL carries user info: give credentials as username and password")
	}
	return base, nil
}

// resolve turns a link the BMC sent (an @odata.id, an action target, a
// Location header) into the path to request from it. Relative links are
// resolved against the BMC's URL, so "@otherhost/…" or ".evil/…" cannot
// become another host once appended to it; absolute ones must name the
// BMC's own origin. An empty link stays empty: the BMC named none.
// Callers resolve a link once, when they learn it, not per request.
func (ep *endpoint) resolve(link string) (string, error) {
	if link == "" {
		return "", nil
	}
	ref, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("unusable link %q: not a URL", ep.shown(link))
	}
	// Parsed again rather than kept: links are few, BMCs many.
	base, err := url.Parse(ep.url)
	if err != nil {
		return "", err
	}
	target := base.ResolveReference(ref)
	if !ep.origin.holds(target) {
		return "", ep.refusal("link", target)
	}
	return target.RequestURI(), nil
}

// checkRedirect is the endpoint's http.Client redirect policy: same-origin
// redirects are followed as net/http does by default; others are refused
// before the request, with its token or password, is sent.
func (ep *endpoint) checkRedirect(req *http.Request, via []*http.Request) error {
	if !ep.origin.holds(req.URL) {
		return ep.refusal("redirect", req.URL)
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// maxRedirects is net/http's default limit.
const maxRedirects = 10

// maxLinkShown bounds how much of a refused link an error shows.
const maxLinkShown = 96

// refusal is the error for a link, redirect or request that leaves the
// BMC's origin.
func (ep *endpoint) refusal(kind string, target *url.URL) *ForeignLinkError {
	where := originOf(target)
	why := "to another host"
	switch {
	case target.User != nil && where == ep.origin:
		why = "with user info"
	case where.host == ep.origin.host && where.scheme != ep.origin.scheme:
		why = "to another scheme"
	case where.host == ep.origin.host:
		why = "to another port"
	}
	// User info and query are left out: either may carry a secret.
	shown := target.Scheme + "://" + net.JoinHostPort(where.host, where.port) + target.EscapedPath()
	if target.Opaque != "" {
		shown = target.Scheme + ":" + target.Opaque
	}
	return &ForeignLinkError{Endpoint: ep.url, Kind: kind, Why: why, Target: ep.shown(shown)}
}

// shown is text the BMC sent, fit for an error: bounded, and without the
// password or token a hostile BMC could have put in it.
func (ep *endpoint) shown(text string) string {
	if len(text) > maxLinkShown {
		text = strings.ToValidUTF8(text[:maxLinkShown], "") + "…"
	}
	return scrub(scrub(text, ep.access.Password), ep.currentToken())
}
