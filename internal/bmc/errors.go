package bmc

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/bos-project/bos/internal/bmc/httpconn"
	"github.com/bos-project/bos/internal/reason"
)

// ErrClosed is returned for calls made after Close.
var ErrClosed = errors.New("bmc pool closed")

// ErrUnknownNode is returned for a node name that was not given to NewPool.
var ErrUnknownNode = errors.New("node not in inventory")

// ErrResetUnsupported means the BMC offers none of the reset types that
// carry out the requested action; the engine can escalate (graceful → force).
var ErrResetUnsupported = errors.New("no suitable reset type offered")

// HTTPError is a Redfish request the BMC answered with an error status. It
// carries the Redfish message rather than the raw JSON body.
type HTTPError struct {
	Status    int
	Message   string
	MessageID string
	err       error
}

func (e *HTTPError) Error() string {
	text := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		text += ": " + e.Message
	}
	if e.MessageID != "" {
		text += " (" + e.MessageID + ")"
	}
	return text
}

func (e *HTTPError) Unwrap() error { return e.err }

// UnreachableError is a BMC that could not be talked to at all. Its text
// names the cause only ("BMC unreachable: connection refused"), the same
// for every BMC it happens to, so that their nodes' failures group; the
// caller's error or log line names the BMC (see Pool.nodeError).
type UnreachableError struct {
	Endpoint string
	Reason   string
	// Silent: the BMC took the requests but answered none of them in time
	// (see noAnswer); Reason says how long bos waited, and how often.
	Silent bool
	err    error
}

func (e *UnreachableError) Error() string {
	if e.Silent {
		return "BMC gave " + e.Reason
	}
	return "BMC unreachable: " + e.Reason
}

// noAnswer is err, the last failure of a request sent attempts times, as
// the reason a node failed: a BMC that timed out every time reads "no
// answer within 20s (4 attempts)", which tells a hung BMC from a network
// problem and says what --request-timeout and --request-retries to change.
// Every other error stays as it is.
func noAnswer(err error, timeout time.Duration, attempts int) error {
	unreachable, ok := err.(*UnreachableError)
	if !ok || !gotNoAnswer(unreachable) {
		return err
	}
	tries := "1 attempt"
	if attempts > 1 {
		tries = fmt.Sprintf("%d attempts", attempts)
	}
	return &UnreachableError{Endpoint: unreachable.Endpoint, Silent: true, err: unreachable.err,
		Reason: fmt.Sprintf("no answer within %s (%s)", shortDuration(timeout), tries)}
}

// gotNoAnswer says whether err is a request that got no answer in time.
func gotNoAnswer(err error) bool {
	var unreachable *UnreachableError
	return errors.As(err, &unreachable) && isTimeout(unreachable.err)
}

// shortDuration is d as a user writes a timeout: "20s", "90s", "1.5s", "500ms".
func shortDuration(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

func (e *UnreachableError) Unwrap() error { return e.err }

// ForeignLinkError is a link, redirect or request that would leave the
// BMC's origin (scheme, host and port) or carries user info. It is refused
// so that credentials and session tokens go nowhere but the BMC, and it is
// not retried: the BMC would send the same link again. Its text shows
// where the link led; its reason (package reason) does not, as that often
// differs from BMC to BMC (an iLO linking to its own DNS name) while the
// cause is one.
type ForeignLinkError struct {
	Endpoint string // the BMC's URL
	Kind     string // "link", "redirect" or "request"
	Why      string // "to another host", "to another port", "to another scheme" or "with user info"
	Target   string // where it led, shortened, without user info or query
}

func (e *ForeignLinkError) Error() string {
	return fmt.Sprintf("refused %s %s (%s): a BMC may only link to itself", e.Kind, e.Why, e.Target)
}

// Reason is the refusal without where the link led.
func (e *ForeignLinkError) Reason() string {
	return fmt.Sprintf("refused %s %s: a BMC may only link to itself", e.Kind, e.Why)
}

// maxMessageLen keeps a non-Redfish error page (HTML from a proxy, say)
// from flooding a per-node failure reason.
const maxMessageLen = 200

// explain turns the errors gofish and net/http return into readable ones:
// the HTTP status with the Redfish message instead of a JSON blob, and
// "BMC unreachable: …" for transport failures, in words that name no
// address or port. secret, when not empty, is
// scrubbed from any text the BMC sent back. Callers handle their own
// context's cancellation first: a timeout here is the BMC's.
func explain(err error, endpoint, secret string) error {
	var (
		httpErr     *HTTPError
		unreachable *UnreachableError
		foreign     *ForeignLinkError
		tooLarge    *httpconn.AnswerTooLargeError
	)
	if errors.As(err, &foreign) {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			// net/http wraps a refused redirect in a url.Error, which
			// only repeats the URL.
			return foreign
		}
		return err
	}
	if err == nil || errors.As(err, &httpErr) || errors.As(err, &unreachable) {
		return err
	}
	if errors.As(err, &tooLarge) {
		return tooLarge
	}
	var redfishErr *schemas.Error
	if errors.As(err, &redfishErr) {
		if redfishErr.HTTPReturnedStatusCode == 0 {
			// gofish keeps only the text of an error met reading an error
			// answer's body; that text is the transport's, not the BMC's.
			if redfishErr.Message == httpconn.ErrAnswerBodyTooLarge.Error() {
				return explain(httpconn.ErrAnswerBodyTooLarge, endpoint, secret)
			}
			return &UnreachableError{Endpoint: endpoint, Reason: shownText(scrub(redfishErr.Message, secret), maxMessageLen), err: err}
		}
		message, messageID := redfishMessage(redfishErr)
		return &HTTPError{
			Status:    redfishErr.HTTPReturnedStatusCode,
			Message:   scrub(message, secret),
			MessageID: messageID,
			err:       err,
		}
	}
	if reason := transportReason(err); reason != "" {
		return &UnreachableError{Endpoint: endpoint, Reason: reason, err: err}
	}
	return err
}

func redfishMessage(e *schemas.Error) (message, messageID string) {
	message, messageID = e.Message, e.Code
	for _, info := range e.ExtendedInfos {
		if info.Message != "" {
			// The extended info names the actual problem; the top-level
			// message is usually "A general error has occurred".
			message, messageID = info.Message, info.MessageID
			break
		}
	}
	return shownText(message, maxMessageLen), shownText(messageID, maxValueLen)
}

// shownText is text a BMC sent, fit for a reason, a warning or a table
// cell: on one line, with anything unprintable (a terminal escape) shown
// as '?', and at most limit bytes of it. Real texts pass as they are.
func shownText(text string, limit int) string {
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > limit {
		text = strings.ToValidUTF8(text[:limit], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, text)
}

// transportReason says why a request never got an answer, in words that
// are the same for every BMC it happens to: no address, port or host name
// (the caller names the BMC).
func transportReason(err error) string {
	var (
		dnsErr       *net.DNSError
		hostnameErr  x509.HostnameError
		authorityErr x509.UnknownAuthorityError
		invalidErr   x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &dnsErr):
		return "cannot resolve its host name"
	case isTimeout(err):
		return "timed out"
	// x509's own texts name the host and the certificate's names and
	// validity times.
	case errors.As(err, &hostnameErr):
		return "TLS certificate not valid for the BMC's host name"
	case errors.As(err, &authorityErr):
		return "TLS certificate signed by unknown authority (set ca_file, or insecure: true)"
	case errors.As(err, &invalidErr) && invalidErr.Reason == x509.Expired:
		return "TLS certificate expired or not yet valid"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// url.Error repeats method and URL; the endpoint is already named.
		return reason.Of(urlErr.Err)
	}
	return ""
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

func scrub(text, secret string) string {
	if secret == "" {
		return text
	}
	return strings.ReplaceAll(text, secret, "[redacted]")
}

func httpStatus(err error) int {
	var httpErr *HTTPError
	if errors.As(err, &httpErr) {
		return httpErr.Status
	}
	return 0
}

// retryable says whether a failed request may succeed if sent again: the
// BMC was unreachable or busy (409: iDRAC refuses On for a while after
// Off), or answered with a server error other than "not implemented". An
// answer too large is not retried.
func retryable(err error) bool {
	var unreachable *UnreachableError
	if errors.As(err, &unreachable) {
		return true
	}
	switch status := httpStatus(err); {
	case status == http.StatusConflict, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return true
	case status == http.StatusNotImplemented:
		return false
	default:
		return status >= 500
	}
}

// maybeDelivered says whether a failed request may nonetheless have reached
// the BMC and been carried out: the connection broke or timed out after it
// was sent. Such a request is sent again only if it is idempotent, or once
// reading its effect back shows it did not land (endpoint.doUnlessLanded).
func maybeDelivered(err error) bool {
	var (
		unreachable *UnreachableError
		dnsErr      *net.DNSError
	)
	if !errors.As(err, &unreachable) {
		return false
	}
	return !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.EHOSTUNREACH) &&
		!errors.Is(err, syscall.ENETUNREACH) && !errors.As(err, &dnsErr)
}

// unsupportedAnswer says whether the BMC refused a reset type as such, so
// the next type in preference order is worth trying.
func unsupportedAnswer(err error) bool {
	status := httpStatus(err)
	return status == http.StatusBadRequest || status == http.StatusNotImplemented
}
