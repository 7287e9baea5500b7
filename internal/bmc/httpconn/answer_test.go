package httpconn

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll reads an answer's body to its end and what is left on the
// connection after it.
func readAll(t *testing.T, resp *http.Response, reader *bufio.Reader) (body, left string, err error) {
	t.Helper()
	data, err := io.ReadAll(resp.Body)
	rest, _ := io.ReadAll(reader)
	return string(data), string(rest), err
}

// assertReadsAsNetHTTP checks that when readSimpleAnswer takes an answer,
// it reads what http.ReadResponse reads, and leaves the same bytes.
func assertReadsAsNetHTTP(t *testing.T, raw, method string) (taken bool) {
	t.Helper()
	req, err := http.NewRequest(method, "http://bmc/redfish/v1/", nil)
	require.NoError(t, err)
	simple := bufio.NewReaderSize(strings.NewReader(raw), 4<<10)
	_, _ = simple.Peek(1) // as exchange does
	buffered := simple.Buffered()
	got, ok := readSimpleAnswer(simple, req)
	if !ok {
		assert.Equal(t, buffered, simple.Buffered(), "bytes read from %q, which is left to net/http", raw)
		return false
	}
	wantReader := bufio.NewReader(strings.NewReader(raw))
	want, err := http.ReadResponse(wantReader, req)
	require.NoError(t, err, "readSimpleAnswer took an answer net/http refuses: %q", raw)
	for _, field := range []struct {
		name      string
		want, got any
	}{
		{"Status", want.Status, got.Status}, {"StatusCode", want.StatusCode, got.StatusCode},
		{"Proto", want.Proto, got.Proto}, {"ProtoMajor", want.ProtoMajor, got.ProtoMajor}, {"ProtoMinor", want.ProtoMinor, got.ProtoMinor},
		{"Header", want.Header, got.Header}, {"ContentLength", want.ContentLength, got.ContentLength},
		{"Close", want.Close, got.Close}, {"TransferEncoding", want.TransferEncoding, got.TransferEncoding},
		{"Trailer", want.Trailer, got.Trailer}, {"NoBody", want.Body == http.NoBody, got.Body == http.NoBody},
	} {
		assert.Equal(t, field.want, field.got, "%s of %q", field.name, raw)
	}
	wantBody, wantLeft, wantErr := readAll(t, want, wantReader)
	gotBody, gotLeft, gotErr := readAll(t, got, simple)
	assert.Equal(t, wantBody, gotBody, "body of %q", raw)
	assert.Equal(t, wantErr, gotErr, "body error of %q", raw)
	assert.Equal(t, wantLeft, gotLeft, "left after %q", raw)
	return true
}

func TestReadSimpleAnswerAsNetHTTP(t *testing.T) {
	const json = "Content-Type: application/json\r\n"
	tests := []struct {
		name   string
		raw    string
		method string
		taken  bool
	}{
		{name: "poll", raw: "HTTP/1.1 200 OK\r\n" + json + "Content-Length: 19\r\n\r\n{\"PowerState\":\"On\"}", taken: true},
		{name: "next answer left", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 204 No Content\r\n\r\n", taken: true},
		{name: "empty body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", taken: true},
		{name: "no content", raw: "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n", method: http.MethodPost, taken: true},
		{name: "not modified", raw: "HTTP/1.1 304 Not Modified\r\nEtag: \"1\"\r\n\r\n", taken: true},
		{name: "created", raw: "HTTP/1.1 201 Created\r\nLocation: /redfish/v1/SessionService/Sessions/1\r\nX-Auth-Token: abc\r\nContent-Length: 2\r\n\r\n{}", method: http.MethodPost, taken: true},
		{name: "error", raw: "HTTP/1.1 404 Not Found\r\n" + json + "Content-Length: 9\r\n\r\n{\"a\":\"b\"}", taken: true},
		{name: "no reason", raw: "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", taken: true},
		{name: "spaces before status", raw: "HTTP/1.1   200 OK\r\nContent-Length: 1\r\n\r\nx", taken: true},
		{name: "lower-case and odd keys", raw: "HTTP/1.1 200 OK\r\ncontent-type: a\r\nx-odata-VERSION: 4\r\nContent-length: 1\r\n\r\nx", taken: true},
		{name: "repeated key", raw: "HTTP/1.1 200 OK\r\nAllow: GET\r\nAllow: PATCH\r\nallow: HEAD\r\nContent-Length: 1\r\n\r\nx", taken: true},
		{name: "values trimmed", raw: "HTTP/1.1 200 OK\r\nX-A:  \tv w \t\r\nX-B:\r\nContent-Length:  1 \r\n\r\nx", taken: true},
		{name: "utf-8 value", raw: "HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9\r\nContent-Length: 1\r\n\r\nx", taken: true},
		{name: "short body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", taken: true},
		// Left to net/http:
		{name: "chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\n\r\n{}"},
		{name: "connection close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "HTTP/1.0", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "continue", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "head", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", method: http.MethodHead},
		{name: "no content with length", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"},
		{name: "two lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "bad length", raw: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}"},
		{name: "folded", raw: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "space in key", raw: "HTTP/1.1 200 OK\r\nX A: a\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "bare LF", raw: "HTTP/1.1 200 OK\nContent-Length: 2\n\n{}"},
		{name: "pragma", raw: "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "incomplete header", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"},
		{name: "bad status", raw: "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "control byte", raw: "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\n{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			assert.Equal(t, tt.taken, assertReadsAsNetHTTP(t, tt.raw, method))
		})
	}
}

func FuzzReadSimpleAnswer(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", false)
	f.Add("HTTP/1.1 204 No Content\r\nX: y\r\n\r\n", true)
	f.Add("HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nAllow: GET\r\nallow: PATCH\r\n\r\nab", false)
	f.Fuzz(func(t *testing.T, raw string, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		assertReadsAsNetHTTP(t, raw, method)
	})
}

// BenchmarkReadAnswer reads a BMC's answer to a poll, header and body:
// net/http is http.ReadResponse, as before readSimpleAnswer.
func BenchmarkReadAnswer(b *testing.B) {
	const raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nOData-Version: 4.0\r\n" +
		"Date: Sat, 05 Dec 2026 05:29:47 GMT\r\nContent-Length: 19\r\n\r\n{\"PowerState\":\"On\"}"
	req, err := http.NewRequest(http.MethodGet, "http://bmc/redfish/v1/Systems/1", nil)
	require.NoError(b, err)
	readers := []struct {
		name string
		read func(*bufio.Reader) (*http.Response, error)
	}{
		{"net/http", func(r *bufio.Reader) (*http.Response, error) { return http.ReadResponse(r, req) }},
		{"simple", func(r *bufio.Reader) (*http.Response, error) { return readFinalAnswer(r, req) }},
	}
	source := strings.NewReader(raw)
	reader := bufio.NewReaderSize(source, 4<<10)
	buf := make([]byte, 64)
	for _, rd := range readers {
		b.Run(rd.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				source.Reset(raw)
				reader.Reset(source)
				_, _ = reader.Peek(1)
				resp, err := rd.read(reader)
				if err != nil {
					b.Fatal(err)
				}
				for err == nil {
					_, err = resp.Body.Read(buf)
				}
			}
		})
	}
}
