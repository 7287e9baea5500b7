package httpconn

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/bmc/httpconn/httpconntest"
)

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
			server := httpconntest.NewRawServer(t, false, func(c *httpconntest.RawConn) {
				for c.ReadRequest() != nil {
					n := answered.Add(1)
					if _, err := io.WriteString(c, tt.informational); err != nil {
						return
					}
					if _, err := io.WriteString(c, httpconntest.Answerf("answer %d", n)); err != nil {
						return
					}
				}
			})
			transport := newTestTransport(t, false)
			for i := 1; i <= 2; i++ {
				body, err := send(context.Background(), transport, http.MethodGet, server.URL, "")
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("answer %d", i), body)
			}
			assert.Equal(t, int64(1), server.Conns(), "the connection stays in step with its answers")
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
		{name: "informational answers count", answer: strings.Repeat(earlyHints, 5) + httpconntest.Answerf("ok"), wantErr: errAnswerHeaderTooLarge},
		{name: "body", answer: httpconntest.Answerf("%s", strings.Repeat("x", bomb)), wantErr: ErrAnswerBodyTooLarge},
		{name: "one byte too many", answer: httpconntest.Answerf("%s", strings.Repeat("x", MaxAnswerBody+1)), wantErr: ErrAnswerBodyTooLarge},
		{name: "chunked body", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat(chunk, bomb/len(chunk)) + "0\r\n\r\n",
			wantErr: ErrAnswerBodyTooLarge},
		{name: "body at the bound", answer: httpconntest.Answerf("%s", strings.Repeat("x", MaxAnswerBody)), wantBody: MaxAnswerBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := httpconntest.NewRawServer(t, false, func(c *httpconntest.RawConn) {
				for c.ReadRequest() != nil {
					if _, err := io.WriteString(c, tt.answer); err != nil {
						return
					}
				}
			})
			transport := newTestTransport(t, false)
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
				assert.Equal(t, int64(1), server.Conns(), "an answer within the bounds keeps its connection")
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
			server := httpconntest.NewRawServer(t, tt.tls, func(c *httpconntest.RawConn) {
				if accepted.Add(1) == 1 {
					if c.ReadRequest() == nil {
						return
					}
					if tt.withAnswer {
						_ = c.Together(func() {
							_, _ = io.WriteString(c, noContent)
							_, _ = io.WriteString(c, stray)
						})
					} else {
						_, _ = io.WriteString(c, noContent)
						<-sendStray
						_, _ = io.WriteString(c, stray)
					}
				}
				for req := c.ReadRequest(); req != nil; req = c.ReadRequest() {
					secondRequests.Add(1)
					_, _ = io.WriteString(c, httpconntest.Answerf("%s answered", req.Method))
				}
			})
			transport := newTestTransport(t, true)

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
			assert.Equal(t, int64(2), server.Conns(), "a fresh connection for the second request")
			assert.Equal(t, int64(1), secondRequests.Load())
		})
	}
}
