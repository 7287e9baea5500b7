package httpconn

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/bmc/httpconn/httpconntest"
)

// pollAnswer is what a BMC answers a poll with, give or take.
const pollAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n" +
	`{"PowerState":"On"}`

// BenchmarkTransportKeepAlive is one poll over a kept-alive connection,
// the request most of bos's traffic is; allocs/op is the transport's own
// plus the request's (the server reads requests without allocating).
func BenchmarkTransportKeepAlive(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		name := "http"
		if useTLS {
			name = "https"
		}
		b.Run(name, func(b *testing.B) {
			server := httpconntest.NewRawServer(b, useTLS, func(c *httpconntest.RawConn) {
				for {
					// Requests carry no body: the empty line ends each.
					for {
						line, err := c.Requests.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := io.WriteString(c, pollAnswer); err != nil {
						return
					}
				}
			})
			transport := New(&tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}, testOptions()) //nolint:gosec
			b.Cleanup(transport.CloseIdle)
			// bos's requests always carry a context that can be cancelled.
			ctx, cancel := context.WithCancel(context.Background())
			b.Cleanup(cancel)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, server.URL+"/redfish/v1/Systems/1", nil)
			require.NoError(b, err)
			req.Header["Accept"] = []string{"application/json"}
			req.Header["X-Auth-Token"] = []string{"0123456789abcdef"}
			buf := make([]byte, 512)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := transport.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				for err == nil {
					_, err = resp.Body.Read(buf)
				}
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
			}
			if server.Conns() != 1 {
				b.Fatalf("%d connections, want 1", server.Conns())
			}
		})
	}
}
