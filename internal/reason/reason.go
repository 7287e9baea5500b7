// Package reason turns errors into failure reasons that group by cause.
//
// A node that fails is recorded with a reason, and nodes with the same
// reason are counted together (error_summary, the status tree's errors,
// the end-of-session table): "BMC unreachable: connection refused", 10
// nodes. So a reason names the cause and leaves out what differs from one
// node to the next: the node's name, its BMC's address and port, a file of
// its own. Errors keep all of that in their text, for logs; Of leaves it
// out.
//
// Where an error happened is told from what happened by type, not by
// parsing text: At wraps an error with where it happened, an error may say
// its own reason (Reasoner), and the location the standard library's
// errors carry (the path of an fs.PathError, the address of a net.OpError,
// the URL of a url.Error) is left out the same way.
package reason

import (
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
)

// Reasoner is an error that says its own reason: its text without what
// differs from node to node.
type Reasoner interface {
	Reason() string
}

// At is err, met at where: the node, BMC or file it is about. Its Error is
// "where: " followed by err's; its reason is err's alone.
func At(where string, err error) error {
	if err == nil {
		return nil
	}
	return &located{where: where, err: err}
}

type located struct {
	where string
	err   error
}

func (e *located) Error() string  { return e.where + ": " + e.err.Error() }
func (e *located) Unwrap() error  { return e.err }
func (e *located) Reason() string { return Of(e.err) }

// Of is err as a failure reason: its text, with every error in its chain
// that says where it happened saying only what happened. A wrapper made by
// fmt.Errorf keeps its own words around its inner error's reason; an error
// whose text holds nothing of where stays as it is.
func Of(err error) string {
	if err == nil {
		return ""
	}
	if r, ok := err.(Reasoner); ok {
		return r.Reason()
	}
	switch e := err.(type) {
	case *fs.PathError:
		return e.Op + ": " + Of(e.Err)
	case *os.LinkError:
		return e.Op + ": " + Of(e.Err)
	case *os.SyscallError:
		return e.Syscall + ": " + Of(e.Err)
	case *net.OpError:
		return e.Op + ": " + Of(e.Err)
	case *url.Error:
		return e.Op + ": " + Of(e.Err)
	case *net.DNSError:
		return "lookup: " + e.Err
	case *net.AddrError:
		return e.Err
	}
	text := err.Error()
	switch wrapper := err.(type) {
	case interface{ Unwrap() error }:
		text = withReasonOf(text, wrapper.Unwrap())
	case interface{ Unwrap() []error }:
		for _, inner := range wrapper.Unwrap() {
			text = withReasonOf(text, inner)
		}
	}
	return text
}

// withReasonOf is a wrapper's text with its inner error's text, which
// fmt.Errorf put in it as it was, replaced by that error's reason.
func withReasonOf(text string, inner error) string {
	if inner == nil {
		return text
	}
	innerText, innerReason := inner.Error(), Of(inner)
	if innerReason == innerText {
		return text
	}
	return strings.Replace(text, innerText, innerReason, 1)
}
