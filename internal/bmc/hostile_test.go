package bmc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/bmc/httpconn"
	"github.com/bos-project/bos/internal/bmc/httpconn/httpconntest"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/reason"
)

// TestPoolNamesAnswersTooLarge: an answer too large fails the node with
// the BMC and the bound named, and is not retried, whichever request it
// came in answer to.
func TestPoolNamesAnswersTooLarge(t *testing.T) {
	const bomb = 8 << 20
	serviceRoot := httpconntest.Answerf(`{"Systems":{"@odata.id":"/redfish/v1/Systems"},"Links":{"Sessions":{"@odata.id":"/redfish/v1/SessionService/Sessions"}}}`)
	headerBomb := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("x", 1000)+"\r\n", bomb/1012) + "\r\n"
	bodyBomb := func(status string) string {
		return fmt.Sprintf("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"x\":\"%s\"}", status, bomb+8, strings.Repeat("x", bomb))
	}
	tests := []struct {
		name    string
		answers map[string]string // by method and path; the service root by default
		want    string
	}{
		{name: "header bomb", answers: map[string]string{"GET /redfish/v1/": headerBomb}, want: "answer header over 64 KiB"},
		{name: "service root body bomb", answers: map[string]string{"GET /redfish/v1/": bodyBomb("200 OK")}, want: "service root over 256 KiB"},
		{name: "error answer body bomb at login", answers: map[string]string{"POST /redfish/v1/SessionService/Sessions": bodyBomb("500 Internal Server Error")},
			want: "answer body over 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int64
			server := httpconntest.NewRawServer(t, false, func(c *httpconntest.RawConn) {
				for req := c.ReadRequest(); req != nil; req = c.ReadRequest() {
					requests.Add(1)
					answer, ok := tt.answers[req.Method+" "+req.URL.Path]
					if !ok {
						answer = serviceRoot
					}
					if _, err := io.WriteString(c, answer); err != nil {
						return
					}
				}
			})
			nodes := []inventory.Node{{Name: "n1", BMC: inventory.BMC{
				Endpoint: server.URL, System: "/redfish/v1/Systems/1", Username: "root", Password: "secret"}}}
			pool := newTestPool(t, nodes, testOptions())
			_, err := pool.PowerState(context.Background(), "n1")
			var tooLarge *httpconn.AnswerTooLargeError
			require.ErrorAs(t, err, &tooLarge)
			assert.ErrorContains(t, err, "node n1 (bmc "+server.URL+"): ", "the log names the BMC")
			assert.Contains(t, reason.Of(err), tt.want+" (a broken or hostile BMC)")
			assert.NotContains(t, reason.Of(err), server.URL, "the reason does not")
			assert.False(t, retryable(err))
			assert.Zero(t, pool.Stats().Retries)
			assert.LessOrEqual(t, requests.Load(), int64(2), "no request was sent again")
		})
	}
}

// TestPoolResumesTLSSessions: a Pool's transports cache their BMCs' TLS
// sessions, so a redial resumes the session.
func TestPoolResumesTLSSessions(t *testing.T) {
	var (
		mu      sync.Mutex
		resumed []bool
	)
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumed = append(resumed, r.TLS.DidResume)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	server.StartTLS()
	t.Cleanup(server.Close)
	// A second BMC with the same settings shares the transport.
	other := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	nodes := []inventory.Node{
		{Name: "n1", BMC: inventory.BMC{Endpoint: server.URL, Insecure: true, Auth: "basic"}},
		{Name: "n2", BMC: inventory.BMC{Endpoint: other.URL, Insecure: true, Auth: "basic"}},
	}
	pool := newTestPool(t, nodes, testOptions())
	transport := pool.transports[tlsSettings{insecure: true}].own
	require.NotNil(t, transport)

	client := &http.Client{Transport: transport}
	for range 3 {
		resp, err := client.Get(server.URL)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, "ok", string(body))
		transport.CloseIdle() // the next request redials
	}
	assert.Equal(t, []bool{false, true, true}, resumed)
	assert.Equal(t, int64(3), transport.Dialed())
}
