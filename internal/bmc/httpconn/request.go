package httpconn

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// writeRequest writes req as net/http's Request.Write does, byte for byte,
// for the requests bos sends: no body or one of known length, no
// trailers. Request.Write allocates a transfer writer, a sorted copy of
// the header and a formatted line or two per request: a tenth of a poll's
// CPU in the transport at 5,000 nodes. Any other request goes to
// Request.Write.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	length, lean := outgoingLength(req)
	if !lean || req.Close || req.TransferEncoding != nil || req.Trailer != nil || req.URL.Opaque != "" ||
		req.Method == http.MethodConnect || !plainHost(host) || !plainHeader(req.Header) {
		return req.Write(w)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	userAgent := defaultUserAgent
	if values, ok := req.Header["User-Agent"]; ok {
		userAgent = ""
		if len(values) > 0 {
			userAgent = trimSpace(values[0])
		}
	}
	if userAgent != "" {
		w.WriteString("\r\nUser-Agent: ")
		w.WriteString(userAgent)
	}
	if length > 0 || (length == 0 && sendsZeroLength(method)) {
		w.WriteString("\r\nContent-Length: ")
		var digits [20]byte
		w.Write(strconv.AppendInt(digits[:0], length, 10))
	}
	var keyBuf [16]string
	keys := keyBuf[:0]
	for key := range req.Header {
		if !excludedHeader(key) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	for _, key := range keys {
		for _, value := range req.Header[key] {
			w.WriteString("\r\n")
			w.WriteString(key)
			w.WriteString(": ")
			w.WriteString(trimSpace(value))
		}
	}
	w.WriteString("\r\n\r\n")
	if length > 0 {
		// As Request.Write, a body longer than its ContentLength is an
		// error too.
		written, err := io.CopyN(w, req.Body, length)
		if err == nil {
			var extra int64
			extra, err = io.Copy(io.Discard, req.Body)
			written += extra
		}
		closeErr := req.Body.Close()
		switch {
		case err != nil && err != io.EOF:
			return err
		case written != length:
			return fmt.Errorf("http: ContentLength=%d with Body length %d", length, written)
		case closeErr != nil:
			return closeErr
		}
	}
	return nil
}

// defaultUserAgent is net/http's, sent when a request sets none.
const defaultUserAgent = "Go-http-client/1.1"

// outgoingLength is the length of req's body as Request.Write sends it, 0
// for none; lean is false when the length is unknown (Request.Write sends
// such a body chunked).
func outgoingLength(req *http.Request) (length int64, lean bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return 0, true
	}
	if req.ContentLength > 0 {
		return req.ContentLength, true
	}
	return 0, false
}

// sendsZeroLength says whether Request.Write states a Content-Length of 0
// for a request of this method without a body.
func sendsZeroLength(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// excludedHeader is what Request.Write writes itself, not from the header.
func excludedHeader(key string) bool {
	switch key {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// plain says whether s holds no line break, which Request.Write would
// rewrite.
func plain(s string) bool { return !strings.ContainsAny(s, "\r\n") }

// trimSpace trims what net/textproto's TrimString does, ASCII white space
// only.
func trimSpace(s string) string { return strings.Trim(s, " \t\r\n") }

// plainHost says whether host is made of what a host name, an IPv4 or a
// bracketed IPv6 address and a port are: Request.Write refuses some other
// bytes and strips an IPv6 zone.
func plainHost(host string) bool {
	for i := range len(host) {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-_:[]", c) >= 0) {
			return false
		}
	}
	return host != ""
}

func plainHeader(header http.Header) bool {
	if len(header) > 16 {
		return false
	}
	for key, values := range header {
		if !plain(key) || strings.ContainsAny(key, " :") {
			return false
		}
		for _, value := range values {
			if !plain(value) {
				return false
			}
		}
	}
	return true
}
