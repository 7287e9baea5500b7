package httpconn

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
)

// maxSimpleHeaders bounds the header fields readSimpleAnswer takes; more
// go to http.ReadResponse.
const maxSimpleHeaders = 32

// readSimpleAnswer reads an answer the way http.ReadResponse would when it
// is the kind BMCs send nearly always: HTTP/1.1, a final status, its whole
// header already in reader's buffer, and a body of stated length or none.
// http.ReadResponse spends a dozen allocations on such an answer
// (a textproto reader, a string per header value, a transfer reader, a
// limited reader and a body); here the header is one string, its values
// share one slice, and a body of known length is read from reader directly.
// ok is false, and nothing is read, for any other answer: http.ReadResponse
// then reads it.
func readSimpleAnswer(reader *bufio.Reader, req *http.Request) (resp *http.Response, ok bool) {
	if req.Method == http.MethodHead {
		return nil, false
	}
	buffered, _ := reader.Peek(reader.Buffered())
	end := bytes.Index(buffered, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false
	}
	head := string(buffered[:end+2]) // every line with its CRLF
	lines := strings.Count(head, "\r\n")
	if strings.Count(head, "\n") != lines || strings.Count(head, "\r") != lines {
		return nil, false // a bare CR or LF: textproto's line rules
	}
	line, rest, _ := strings.Cut(head, "\r\n")
	proto, status, ok := strings.Cut(line, " ")
	status = strings.TrimLeft(status, " ")
	if !ok || proto != "HTTP/1.1" || len(status) < 3 || (len(status) > 3 && status[3] != ' ') {
		return nil, false
	}
	code := 0
	for _, c := range []byte(status[:3]) {
		if c < '0' || c > '9' {
			return nil, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 {
		return nil, false
	}
	count := lines - 1
	if count > maxSimpleHeaders {
		return nil, false
	}
	header := make(http.Header, count)
	values := make([]string, count)
	length := int64(-1)
	for i := 0; rest != ""; i++ {
		line, rest, _ = strings.Cut(rest, "\r\n")
		key, value, found := strings.Cut(line, ":")
		if !found || !isToken(key) || !plainValue(value) {
			return nil, false
		}
		value = strings.Trim(value, " \t")
		key = canonicalKey(key)
		switch key {
		case "Content-Length":
			if length >= 0 {
				return nil, false
			}
			if length = parseLength(value); length < 0 {
				return nil, false
			}
		case "Transfer-Encoding", "Connection", "Pragma", "Trailer":
			// Framing, closing and the cache fix-up: http.ReadResponse's.
			return nil, false
		}
		values[i] = value
		if previous, repeated := header[key]; repeated {
			header[key] = append(previous, value)
		} else {
			header[key] = values[i : i+1 : i+1]
		}
	}
	bodyless := code == http.StatusNoContent || code == http.StatusNotModified
	switch {
	case bodyless && length >= 0, !bodyless && length < 0:
		return nil, false
	case bodyless:
		length = 0
	}
	if _, err := reader.Discard(end + 4); err != nil {
		return nil, false // cannot happen: the bytes are buffered
	}
	resp = &http.Response{
		Status: status, StatusCode: code, Proto: proto, ProtoMajor: 1, ProtoMinor: 1,
		Header: header, ContentLength: length, Request: req, Body: http.NoBody,
	}
	if length > 0 {
		resp.Body = &lengthBody{reader: reader, left: length}
	}
	return resp, true
}

// isToken says whether key is a header field name textproto accepts.
func isToken(key string) bool {
	if key == "" {
		return false
	}
	for i := range len(key) {
		c := key[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// plainValue says whether value holds no control byte but tabs, which
// textproto would refuse, and does not continue on the next line.
func plainValue(value string) bool {
	for i := range len(value) {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// canonicalKey is http.CanonicalHeaderKey(key), without allocating when
// key is already canonical, as BMCs' are.
func canonicalKey(key string) string {
	upper := true
	for i := range len(key) {
		c := key[i]
		if (upper && 'a' <= c && c <= 'z') || (!upper && 'A' <= c && c <= 'Z') {
			return http.CanonicalHeaderKey(key)
		}
		upper = c == '-'
	}
	return key
}

// parseLength reads a Content-Length as net/http does, -1 when it does not
// (or when it is too large to matter: the body bound stops it anyway).
func parseLength(value string) int64 {
	if value == "" || len(value) > 18 {
		return -1
	}
	var n int64
	for i := range len(value) {
		c := value[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// lengthBody is a body of known length read from the connection's reader,
// as net/http's: io.EOF with its last bytes, io.ErrUnexpectedEOF when the
// connection ends first.
type lengthBody struct {
	reader *bufio.Reader
	left   int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.reader.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *lengthBody) Close() error { return nil }
