package httpconn

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteRequestAsNetHTTP checks that writeRequest sends what
// Request.Write sends, byte for byte, for the requests it writes itself and
// for those it hands over.
func TestWriteRequestAsNetHTTP(t *testing.T) {
	tests := []struct {
		name   string
		method string
		url    string
		body   string
		header http.Header
		adjust func(*http.Request)
	}{
		{name: "poll", method: http.MethodGet, url: "http://10.0.0.1:8443/redfish/v1/Systems/1",
			header: http.Header{"Accept": {"application/json"}, "X-Auth-Token": {"abc"}}},
		{name: "default method", method: "", url: "https://bmc/redfish/v1/"},
		{name: "query and escapes", method: http.MethodGet, url: "http://bmc/redfish/v1/Systems/a%20b?$select=PowerState&x=1"},
		{name: "reset", method: http.MethodPost, url: "https://bmc:443/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
			body: `{"ResetType":"On"}`, header: http.Header{"Content-Type": {"application/json"}, "Odata-Version": {"4.0"}, "Authorization": {"Basic cm9vdDpw"}}},
		{name: "post without body", method: http.MethodPost, url: "http://bmc/redfish/v1/SessionService/Sessions"},
		{name: "patch", method: http.MethodPatch, url: "http://bmc/redfish/v1/Systems/1",
			body: `{"Boot":{"BootSourceOverrideTarget":"Pxe"}}`, header: http.Header{"If-Match": {"W/\"1\""}}},
		{name: "delete", method: http.MethodDelete, url: "http://[::1]:8000/redfish/v1/SessionService/Sessions/7"},
		{name: "user agent set", method: http.MethodGet, url: "http://bmc/", header: http.Header{"User-Agent": {" gofish/1.0 "}}},
		{name: "user agent empty", method: http.MethodGet, url: "http://bmc/", header: http.Header{"User-Agent": {""}}},
		{name: "user agent none", method: http.MethodGet, url: "http://bmc/", header: http.Header{"User-Agent": nil}},
		{name: "values trimmed, repeated, empty", method: http.MethodGet, url: "http://bmc/",
			header: http.Header{"Accept": {"\tapplication/json ", "*/*"}, "X-Empty": {""}, "X-None": {}}},
		{name: "excluded headers", method: http.MethodGet, url: "http://bmc/",
			header: http.Header{"Host": {"other"}, "Content-Length": {"5"}, "Trailer": {"x"}, "host": {"kept as is"}}},
		{name: "host override", method: http.MethodGet, url: "http://10.0.0.1/", adjust: func(r *http.Request) { r.Host = "bmc.example" }},
		// Handed to Request.Write:
		{name: "line break in a value", method: http.MethodGet, url: "http://bmc/", header: http.Header{"X-A": {"a\r\nX-Injected: 1"}}},
		{name: "close", method: http.MethodGet, url: "http://bmc/", adjust: func(r *http.Request) { r.Close = true }},
		{name: "unknown length", method: http.MethodPost, url: "http://bmc/", body: "abc", adjust: func(r *http.Request) { r.ContentLength = 0 }},
		{name: "IPv6 zone", method: http.MethodGet, url: "http://[fe80::1%25eth0]:80/"},
		{name: "many headers", method: http.MethodGet, url: "http://bmc/", header: manyHeaders(20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			build := func() *http.Request {
				var body io.Reader
				if tt.body != "" {
					body = strings.NewReader(tt.body)
				}
				req, err := http.NewRequest(tt.method, tt.url, body)
				require.NoError(t, err)
				for k, v := range tt.header {
					req.Header[k] = v
				}
				if tt.adjust != nil {
					tt.adjust(req)
				}
				return req
			}
			var want, got bytes.Buffer
			require.NoError(t, build().Write(&want))
			w := bufio.NewWriter(&got)
			require.NoError(t, writeRequest(w, build()))
			require.NoError(t, w.Flush())
			assert.Equal(t, want.String(), got.String())
		})
	}
}

func manyHeaders(n int) http.Header {
	h := http.Header{}
	for i := range n {
		h.Set("X-H"+strings.Repeat("a", i+1), "v")
	}
	return h
}

// TestWriteRequestBodyLength refuses bodies that do not have the length
// the request states, as Request.Write does.
func TestWriteRequestBodyLength(t *testing.T) {
	for _, tt := range []struct {
		name   string
		body   io.Reader
		length int64
	}{
		{name: "short", body: strings.NewReader("ab"), length: 3},
		{name: "long", body: strings.NewReader("abcd"), length: 3},
		{name: "failing", body: iotest.ErrReader(io.ErrClosedPipe), length: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, "http://bmc/", io.NopCloser(tt.body))
			require.NoError(t, err)
			req.ContentLength = tt.length
			assert.Error(t, writeRequest(bufio.NewWriter(io.Discard), req))
		})
	}
}
