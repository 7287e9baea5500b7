package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testScale makes a realistic 60 s boot last 60 ms.
const testScale = 0.001

const testPassword = "s3cret-test"

func startFleet(t *testing.T, opts Options) *Fleet {
	t.Helper()
	if opts.TimeScale == 0 {
		opts.TimeScale = testScale
	}
	if opts.Password == "" {
		opts.Password = testPassword
	}
	fleet, err := Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fleet.Close()) })
	return fleet
}

// redfishClient talks raw HTTP to one BMC.
type redfishClient struct {
	t        *testing.T
	http     *http.Client
	endpoint string
	token    string
	basic    bool
}

func newRedfishClient(t *testing.T, endpoint string) *redfishClient {
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &redfishClient{t: t, http: &http.Client{Transport: transport, Timeout: 10 * time.Second}, endpoint: endpoint}
}

// do sends a request and returns the status, headers and decoded JSON body
// (nil when there is none).
func (c *redfishClient) do(method, path string, body any) (int, http.Header, map[string]any) {
	c.t.Helper()
	var reader io.Reader
	if body != nil {
		encoded, err := json.Marshal(body)
		require.NoError(c.t, err)
		reader = bytes.NewReader(encoded)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.endpoint+path, reader)
	require.NoError(c.t, err)
	if c.token != "" {
		req.Header.Set("X-Auth-Token", c.token)
	}
	if c.basic {
		req.SetBasicAuth("root", testPassword)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var decoded map[string]any
	if len(raw) > 0 {
		require.NoError(c.t, json.Unmarshal(raw, &decoded), "body: %s", raw)
	}
	return resp.StatusCode, resp.Header, decoded
}

// tryPost sends a POST that may get no answer: its status, or the error
// that took the place of an answer.
func (c *redfishClient) tryPost(ctx context.Context, path string, body any) (int, error) {
	c.t.Helper()
	encoded, err := json.Marshal(body)
	require.NoError(c.t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+path, bytes.NewReader(encoded))
	require.NoError(c.t, err)
	req.Header.Set("X-Auth-Token", c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// login opens a session and returns its Location.
func (c *redfishClient) login() string {
	c.t.Helper()
	status, header, _ := c.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": testPassword})
	require.Equal(c.t, http.StatusCreated, status)
	c.token = header.Get("X-Auth-Token")
	require.NotEmpty(c.t, c.token)
	return header.Get("Location")
}

// get reads a resource that must exist.
func (c *redfishClient) get(path string) map[string]any {
	c.t.Helper()
	status, _, body := c.do(http.MethodGet, path, nil)
	require.Equal(c.t, http.StatusOK, status, "GET %s", path)
	return body
}

func (c *redfishClient) powerState(system string) any {
	c.t.Helper()
	return c.get(system)["PowerState"]
}

// waitPower polls until the system reports want.
func (c *redfishClient) waitPower(system, want string) {
	c.t.Helper()
	require.Eventually(c.t, func() bool { return c.powerState(system) == want }, 5*time.Second, time.Millisecond, "waiting for %s", want)
}

func assertTimeOrdered(t *testing.T, actions []ActionRecord) {
	t.Helper()
	for i := 1; i < len(actions); i++ {
		assert.False(t, actions[i].Time.Before(actions[i-1].Time), "action log out of time order at %d", i)
	}
}

// fleetStart is when test fleets built without Start came up.
var fleetStart = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

// newStandaloneNode is a node alone on a BMC with no server, driven by
// explicit times.
func newStandaloneNode(profile string, faults faultSet, timing Timing) *node {
	fleet := &fleetConfig{timing: timing, scale: 1, username: "root", started: fleetStart}
	b := newBMC(0, newLayout(profiles[profile], 1), fleet, faults, testPassword)
	return b.addNode("x3000c0s1b0n0", faults)
}
