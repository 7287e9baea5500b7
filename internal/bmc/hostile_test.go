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
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/reason"
)

// answerf is a final answer with a Content-Length body.
func answerf(format string, args ...any) string {
	body := fmt.Sprintf(format, args...)
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// TestTransportSkipsInformationalAnswers: 1xx answers before the answer
// are skipped, a few of them, and every answer goes to its own request.
func TestTransportSkipsInformationalAnswers(t *testing.T) {
	const continueAnswer = "HTTP/1.1 100 Continue\r\n\r\n"
	tests := []struct {
		name          string
		informational string // sent before each answer
		wantErr       string
	}{
		{name: "100 Continue", informational: continueAnswer},
		{name: "103 Early Hints with headers", informational: "HTTP/1.1 103 Early Hints\r\nLink: </redfish/v1/>; rel=preload\r\n\r\n"},
		{name: "five of them", informational: strings.Repeat(continueAnswer, 5)},
		{name: "six are too many", informational: strings.Repeat(continueAnswer, 6), wantErr: "more than 5 informational (1xx) answers"},
		{name: "101 is final", informational: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", wantErr: "101 Switching Protocols"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var answered atomic.Int64
			server := newRawServer(t, false, func(c *rawConn) {
				for c.readRequest() != nil {
					n := answered.Add(1)
					if _, err := io.WriteString(c, tt.informational); err != nil {
						return
					}
					if _, err := io.WriteString(c, answerf("answer %d", n)); err != nil {
						return
					}
				}
			})
			transport := newTestTransport(t)
			for i := 1; i <= 2; i++ {
				body, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("answer %d", i), body)
			}
			assert.Equal(t, int64(1), server.conns.Load(), "the connection stays in step with its answers")
		})
	}
}

// TestTransportBoundsAnswers: an answer past the header or body bound
// fails with an AnswerTooLargeError as soon as the bound is reached. The
// bombs are finite (far past the bounds) so that the test ends even
// without the bounds.
func TestTransportBoundsAnswers(t *testing.T) {
	const bomb = 8 << 20
	headerLine := "X-Filler: " + strings.Repeat("x", 1000) + "\r\n"
	headerLines := strings.Repeat(headerLine, bomb/len(headerLine))
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 4096, strings.Repeat("x", 4096))
	earlyHints := "HTTP/1.1 103 Early Hints\r\n" + strings.Repeat(headerLine, 15) + "\r\n"
	tests := []struct {
		name     string
		answer   string
		wantErr  *AnswerTooLargeError // nil: the answer is read whole
		wantBody int
	}{
		{name: "header lines", answer: "HTTP/1.1 200 OK\r\n" + headerLines + "\r\n", wantErr: errAnswerHeaderTooLarge},
		{name: "one header line", answer: "HTTP/1.1 200 OK\r\nX-Filler: " + strings.Repeat("x", bomb) + "\r\n\r\n", wantErr: errAnswerHeaderTooLarge},
		{name: "status line", answer: "HTTP/1.1 200 " + strings.Repeat("x", bomb) + "\r\n\r\n", wantErr: errAnswerHeaderTooLarge},
		{name: "informational answers count", answer: strings.Repeat(earlyHints, 5) + answerf("ok"), wantErr: errAnswerHeaderTooLarge},
		{name: "body", answer: answerf("%s", strings.Repeat("x", bomb)), wantErr: errAnswerBodyTooLarge},
		{name: "one byte too many", answer: answerf("%s", strings.Repeat("x", maxAnswerBody+1)), wantErr: errAnswerBodyTooLarge},
		{name: "chunked body", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat(chunk, bomb/len(chunk)) + "0\r\n\r\n",
			wantErr: errAnswerBodyTooLarge},
		{name: "body at the bound", answer: answerf("%s", strings.Repeat("x", maxAnswerBody)), wantBody: maxAnswerBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := newRawServer(t, false, func(c *rawConn) {
				for c.readRequest() != nil {
					if _, err := io.WriteString(c, tt.answer); err != nil {
						return
					}
				}
			})
			transport := newTestTransport(t)
			for range 2 {
				body, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
				if tt.wantErr != nil {
					var tooLarge *AnswerTooLargeError
					require.ErrorAs(t, err, &tooLarge)
					assert.Equal(t, tt.wantErr, tooLarge)
					continue
				}
				require.NoError(t, err)
				assert.Len(t, body, tt.wantBody)
			}
			if tt.wantErr == nil {
				assert.Equal(t, int64(1), server.conns.Load(), "an answer within the bounds keeps its connection")
			}
		})
	}
}

// TestTransportRedialsAfterStrayBytes: bytes a BMC sends after its answer
// (a body after a 204) are found before the connection is used again, for
// any request, also when they came with the answer over TLS.
func TestTransportRedialsAfterStrayBytes(t *testing.T) {
	const noContent, stray = "HTTP/1.1 204 No Content\r\n\r\n", "a body after all"
	tests := []struct {
		name   string
		tls    bool
		method string
		// withAnswer: the stray bytes leave in the answer's TCP segment
		// (over TLS as a record of their own); else they follow later.
		withAnswer bool
	}{
		{name: "http GET", method: http.MethodGet},
		{name: "http POST", method: http.MethodPost},
		{name: "https GET", tls: true, method: http.MethodGet},
		{name: "https GET, stray record with the answer", tls: true, method: http.MethodGet, withAnswer: true},
		{name: "https POST, stray record with the answer", tls: true, method: http.MethodPost, withAnswer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sendStray := make(chan struct{})
			var accepted, secondRequests atomic.Int64
			server := newRawServer(t, tt.tls, func(c *rawConn) {
				if accepted.Add(1) == 1 {
					if c.readRequest() == nil {
						return
					}
					if tt.withAnswer {
						_ = c.together(func() {
							_, _ = io.WriteString(c, noContent)
							_, _ = io.WriteString(c, stray)
						})
					} else {
						_, _ = io.WriteString(c, noContent)
						<-sendStray
						_, _ = io.WriteString(c, stray)
					}
				}
				for req := c.readRequest(); req != nil; req = c.readRequest() {
					secondRequests.Add(1)
					_, _ = io.WriteString(c, answerf("%s answered", req.Method))
				}
			})
			tlsConfig, err := newTLSConfig(tlsSettings{insecure: true})
			require.NoError(t, err)
			transport := newConnTransport(tlsConfig, testOptions().withDefaults())
			t.Cleanup(transport.closeIdle)

			body, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
			require.NoError(t, err)
			require.Empty(t, body)
			if !tt.withAnswer {
				close(sendStray)
				require.Eventually(t, func() bool {
					transport.mu.Lock()
					defer transport.mu.Unlock()
					return transport.idle.front.stale()
				}, 5*time.Second, time.Millisecond, "the stray bytes reach the client")
			}

			body, err = send(context.Background(), transport, tt.method, server.URL, "x")
			require.NoError(t, err)
			assert.Equal(t, tt.method+" answered", body)
			assert.Equal(t, int64(2), server.conns.Load(), "a fresh connection for the second request")
			assert.Equal(t, int64(1), secondRequests.Load())
		})
	}
}

// TestPoolNamesAnswersTooLarge: an answer too large fails the node with
// the BMC and the bound named, and is not retried, whichever request it
// came in answer to.
func TestPoolNamesAnswersTooLarge(t *testing.T) {
	const bomb = 8 << 20
	serviceRoot := answerf(`{"Systems":{"@odata.id":"/redfish/v1/Systems"},"Links":{"Sessions":{"@odata.id":"/redfish/v1/SessionService/Sessions"}}}`)
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
			server := newRawServer(t, false, func(c *rawConn) {
				for req := c.readRequest(); req != nil; req = c.readRequest() {
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
			var tooLarge *AnswerTooLargeError
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

	for range 3 {
		body, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
		require.NoError(t, err)
		require.Equal(t, "ok", body)
		transport.closeIdle() // the next request redials
	}
	assert.Equal(t, []bool{false, true, true}, resumed)
	assert.Equal(t, int64(3), transport.dialed.Load())
}
