package bmc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
)

// elsewhere is a server a hostile BMC links or redirects to. It records
// every request that reaches it and the credentials it carried.
type elsewhere struct {
	server *httptest.Server
	mu     sync.Mutex
	got    []string
}

// newElsewhere listens on ip: 127.0.0.1 is another port of the BMC's host,
// 127.0.0.2 another host.
func newElsewhere(t *testing.T, ip string) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	listener, err := net.Listen("tcp", ip+":0")
	require.NoError(t, err)
	e.server = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	require.NoError(t, e.server.Listener.Close())
	e.server.Listener = listener
	e.server.Start()
	t.Cleanup(e.server.Close)
	return e
}

func (e *elsewhere) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	e.mu.Lock()
	e.got = append(e.got, fmt.Sprintf("%s %s (X-Auth-Token %q, Authorization %q, password in body: %v)",
		r.Method, r.URL.Path, r.Header.Get("X-Auth-Token"), r.Header.Get("Authorization"),
		strings.Contains(string(body), fixturePassword)))
	e.mu.Unlock()
	w.Header().Set("X-Auth-Token", "stolen")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"PowerState": "On"}`))
}

func (e *elsewhere) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

// host is the server's host:port, for links such as "@host/…" that today's
// string concatenation would turn into user info and another host.
func (e *elsewhere) host() string { return strings.TrimPrefix(e.server.URL, "http://") }

// redirectTo answers method on the resource at key with a redirect of the
// same path to away.
func redirectTo(status int, method, key string, away *elsewhere) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != method || resourceKey(r.URL.Path) != key {
			return false
		}
		w.Header().Set("Location", away.server.URL+r.URL.Path)
		w.WriteHeader(status)
		return true
	}
}

const (
	dmtfSystemPath = "/redfish/v1/" + dmtfSystem
	dmtfResetPath  = dmtfSystemPath + "/Actions/ComputerSystem.Reset"
)

func powerStateOf(ctx context.Context, pool *Pool) error {
	_, err := pool.PowerState(ctx, "n0")
	return err
}

func powerOn(ctx context.Context, pool *Pool) error {
	return errOf(pool.Reset(ctx, "n0", power.PowerOn))
}

// TestCredentialsNeverLeaveTheBMC points a BMC's links and redirects at
// other servers (another port of its host, another host) and checks that
// neither ever sees a request, let alone a password or token, and that
// links to elsewhere are refused by name.
func TestCredentialsNeverLeaveTheBMC(t *testing.T) {
	tests := []struct {
		name      string
		otherHost bool // away is 127.0.0.2 rather than another port of 127.0.0.1
		basic     bool
		prepare   func(q *quirkyBMC, away *elsewhere)
		act       func(ctx context.Context, pool *Pool) error
		wantErr   string // in the node's error
	}{
		{
			name: "sessions link with user info",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.set("", "Links", map[string]any{"Sessions": link("@" + away.host() + "/redfish/v1/SessionService/Sessions")})
			},
			act: powerStateOf, wantErr: "service root: unusable link",
		},
		{
			name: "sessions link to another port",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.set("", "Links", map[string]any{"Sessions": link(away.server.URL + "/redfish/v1/SessionService/Sessions")})
			},
			act: powerStateOf, wantErr: "service root: refused link to another port (http://127.0.0.1:",
		},
		{
			name: "session service link to another host", otherHost: true,
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.set("", "Links", deleteField)
				q.set("", "SessionService", link(away.server.URL+"/redfish/v1/SessionService"))
			},
			act: powerStateOf, wantErr: "refused link to another host (http://127.0.0.2:",
		},
		{
			name: "systems link to another host", otherHost: true,
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.set("", "Systems", link(away.server.URL+"/redfish/v1/Systems"))
			},
			act: powerStateOf, wantErr: "refused link to another host",
		},
		{
			name: "system member with user info",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.put("Systems", collection("@"+away.host()+dmtfSystemPath))
			},
			act: powerStateOf, wantErr: "systems collection: unusable link",
		},
		{
			name: "GET redirected to another port",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.intercept = redirectTo(http.StatusTemporaryRedirect, http.MethodGet, dmtfSystem, away)
			},
			act: powerStateOf, wantErr: "refused redirect to another port",
		},
		{
			name: "GET with Basic credentials redirected to another port", basic: true,
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.intercept = redirectTo(http.StatusFound, http.MethodGet, dmtfSystem, away)
			},
			act: powerStateOf, wantErr: "refused redirect to another port",
		},
		{
			name: "login POST redirected (307) to another port",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.intercept = redirectTo(http.StatusTemporaryRedirect, http.MethodPost, "SessionService/Sessions", away)
			},
			act: powerStateOf, wantErr: "session login: refused redirect to another port",
		},
		{
			name: "login POST redirected (302) to another host", otherHost: true,
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.intercept = redirectTo(http.StatusFound, http.MethodPost, "SessionService/Sessions", away)
			},
			act: powerStateOf, wantErr: "session login: refused redirect to another host",
		},
		{
			name: "reset POST redirected to another port",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.intercept = redirectTo(http.StatusTemporaryRedirect, http.MethodPost, dmtfSystem+"/Actions/ComputerSystem.Reset", away)
			},
			act: powerOn, wantErr: "refused redirect to another port",
		},
		{
			name: "session Location to another host", otherHost: true,
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.locationPrefix = away.server.URL
			},
			act: powerStateOf, wantErr: "session login: refused link to another host",
		},
		{
			name: "session Location with user info",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.locationPrefix = "@" + away.host()
			},
			act: powerStateOf, wantErr: "session login: unusable link",
		},
		{
			name: "reset target with user info",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.setResetAction(dmtfSystem, map[string]any{"target": "@" + away.host() + dmtfResetPath})
			},
			act: powerOn, wantErr: "unusable link",
		},
		{
			name: "reset ActionInfo on another host", otherHost: true,
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.setResetAction(dmtfSystem, map[string]any{
					"target":              dmtfResetPath,
					"@Redfish.ActionInfo": away.server.URL + dmtfSystemPath + "/ResetActionInfo",
				})
			},
			act: powerOn, wantErr: "refused link to another host",
		},
		{
			name: "system @odata.id with user info, where a boot override goes",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				q.withBoot(nil)
				q.set(dmtfSystem, "@odata.id", "@"+away.host()+dmtfSystemPath)
			},
			act: func(ctx context.Context, pool *Pool) error {
				_, err := pool.SetBootOverride(ctx, "n0", BootOverride{Target: BootTargetPxe, Once: true})
				return err
			},
			wantErr: "unusable link",
		},
		{
			name: "virtual media insert target on another port",
			prepare: func(q *quirkyBMC, away *elsewhere) {
				cdSlot := slot(cd, []string{"CD", "DVD"}, nil, false)
				cdSlot["Actions"] = map[string]any{"#VirtualMedia.InsertMedia": map[string]any{
					"target": away.server.URL + cd + "/Actions/VirtualMedia.InsertMedia",
				}}
				q.withManagerMedia(true, cdSlot)
			},
			act:     func(ctx context.Context, pool *Pool) error { return pool.InsertMedia(ctx, "n0", isoURL) },
			wantErr: "refused link to another port",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuirkyBMC(t)
			awayIP := "127.0.0.1"
			if tt.otherHost {
				awayIP = "127.0.0.2"
			}
			away := newElsewhere(t, awayIP)
			tt.prepare(q, away)
			node := q.node("n0", "")
			node.BMC.Endpoint = q.front.URL
			if tt.basic {
				node.BMC.Auth = "basic"
			}
			pool := NewPool([]inventory.Node{node}, testOptions())
			err := tt.act(context.Background(), pool)
			_ = pool.Close(context.Background()) // logging out must not leak either

			assert.Empty(t, away.requests(), "the BMC's credentials or token went elsewhere")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "node n0 (bmc "+q.front.URL+"): ", "the refusal is the node's failure")
			var foreign *ForeignLinkError
			if errors.As(err, &foreign) {
				assert.NotContains(t, reason.Of(err), foreign.Target, "the reason leaves out where the link led")
			}
			assert.NotContains(t, err.Error(), fixturePassword)
			assert.Zero(t, pool.Stats().Retries, "a refused link is not worth retrying")
		})
	}
}

func TestResolveKeepsLinksOnTheBMC(t *testing.T) {
	const password = "pa55-In-Link"
	pool := NewPool([]inventory.Node{{Name: "n0", BMC: inventory.BMC{
		Endpoint: "https://bmc.example", Username: fixtureUser, Password: password,
	}}}, testOptions())
	ep := pool.endpoints[0]
	tests := []struct {
		link, want, refused string
	}{
		{link: "", want: ""},
		{link: "/redfish/v1/Systems/1/", want: "/redfish/v1/Systems/1/"},
		{link: "/redfish/v1/Systems/1?$select=PowerState", want: "/redfish/v1/Systems/1?$select=PowerState"},
		{link: "https://bmc.example/redfish/v1/Systems/1", want: "/redfish/v1/Systems/1"},
		{link: "https://BMC.Example:443/redfish/v1/Systems/1", want: "/redfish/v1/Systems/1"},
		{link: "Systems/1", want: "/Systems/1"},
		// Appended to the endpoint's URL, these named another host.
		{link: "@evil.example/redfish/v1/SessionService/Sessions", want: "/@evil.example/redfish/v1/SessionService/Sessions"},
		{link: ".evil.example/redfish/v1", want: "/.evil.example/redfish/v1"},
		{link: "https://evil.example/redfish/v1/Systems/1", refused: "refused link to another host (https://evil.example:443/redfish/v1/Systems/1)"},
		{link: "//evil.example/redfish/v1", refused: "refused link to another host (https://evil.example:443/redfish/v1)"},
		{link: "https://bmc.example:8443/redfish/v1", refused: "refused link to another port (https://bmc.example:8443/redfish/v1)"},
		{link: "http://bmc.example/redfish/v1", refused: "refused link to another scheme (http://bmc.example:80/redfish/v1)"},
		{link: "https://root:" + password + "@bmc.example/redfish/v1", refused: "refused link with user info (https://bmc.example:443/redfish/v1)"},
		{link: "https:evil.example/redfish/v1", refused: "refused link to another host (https:evil.example/redfish/v1)"},
		{link: "https://evil.example/" + password, refused: "refused link to another host (https://evil.example:443/[redacted])"},
	}
	for _, tt := range tests {
		t.Run(tt.link, func(t *testing.T) {
			got, err := ep.resolve(tt.link)
			if tt.refused == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			var foreign *ForeignLinkError
			require.ErrorAs(t, err, &foreign)
			assert.Equal(t, tt.refused+": a BMC may only link to itself", err.Error())
			assert.Equal(t, tt.refused[:strings.Index(tt.refused, " (")]+": a BMC may only link to itself", reason.Of(err))
			assert.NotContains(t, err.Error(), password)
			assert.False(t, retryable(err))
		})
	}
	own, err := url.Parse("https://bmc.example/redfish/v1/Systems/1")
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = ep.origin.holds(own) }),
		"every request is checked: the check must cost no allocation")
	long := "https://evil.example/" + strings.Repeat("a", 1000)
	_, err = ep.resolve(long)
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 300, "a refused link is shown shortened")
}

// TestClientSendsNothingElsewhere: whatever a future code path asks of
// the endpoint's HTTP client, it talks to the BMC only, so the session
// token it adds cannot leak.
func TestClientSendsNothingElsewhere(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	away := newElsewhere(t, "127.0.0.1")
	pool := newTestPool(t, []inventory.Node{f.node("n0", "")}, testOptions())
	_, err := pool.PowerState(context.Background(), "n0")
	require.NoError(t, err)
	for _, target := range []string{
		away.server.URL + "/redfish/v1",
		"http://" + fixtureUser + ":" + fixturePassword + "@" + strings.TrimPrefix(f.server.URL, "http://") + "/redfish/v1",
	} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
		require.NoError(t, err)
		resp, err := pool.endpoints[0].httpClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		require.Error(t, err, target)
		assert.Contains(t, err.Error(), "refused request")
		assert.NotContains(t, err.Error(), fixturePassword)
	}
	assert.Empty(t, away.requests())
	assert.Empty(t, f.authHeader, "user info in a URL must not become an Authorization header")
}

// TestRefusedSessionIsNotOpenedAgain: a BMC whose login answer links
// elsewhere has opened a session bos cannot log out of; every further
// login would open another.
func TestRefusedSessionIsNotOpenedAgain(t *testing.T) {
	f := newFixtureBMC(t, "dmtf")
	away := newElsewhere(t, "127.0.0.2")
	f.locationPrefix = away.server.URL
	pool := newTestPool(t, []inventory.Node{f.node("n0", ""), f.node("n1", dmtfSystemPath)}, testOptions())
	for _, node := range []string{"n0", "n1", "n0"} {
		_, err := pool.PowerState(context.Background(), node)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "refused link to another host")
	}
	logins, _, _ := f.counts()
	assert.Equal(t, 1, logins)
	assert.Empty(t, away.requests())
}
