package bmc

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
)

const (
	fixtureUser     = "root"
	fixturePassword = "s3cret-Pa55word"
	mockupRoot      = "../../testdata/redfish-mockups"
)

// resetAnswer is what the fixture answers to one reset POST; hang holds
// the answer until the client gives up, drop closes the connection without
// one.
type resetAnswer struct {
	status int
	body   string
	hang   bool
	drop   bool
}

// fixtureBMC serves a vendor mockup directory (short form: <path>/index.json
// per resource) over real HTTP on 127.0.0.1, with a Redfish SessionService
// and a programmable Reset action.
type fixtureBMC struct {
	t      *testing.T
	server *httptest.Server

	mu         sync.Mutex
	resources  map[string]json.RawMessage // key: path below /redfish/v1, no slashes at the ends
	sessions   map[string]string          // token → session path
	nextID     int
	logins     int
	logouts    int
	inFlight   int
	maxFlight  int
	resets     []string // "<system key> <ResetType>" in arrival order
	resetPaths []string // request paths of reset POSTs
	authHeader []string // Authorization headers seen
	// answerReset, when set, decides each reset's answer; nil → 204.
	answerReset func(resetType string, n int) resetAnswer
	// noLocation drops the Location header from login answers (the body
	// still carries @odata.id).
	noLocation bool
	// locationPrefix, when set, replaces the scheme and host of login
	// answers' Location header.
	locationPrefix string
	// intercept, when set, sees every request first and answers those it
	// returns true for.
	intercept func(w http.ResponseWriter, r *http.Request) bool
	// block, when set, holds every GET of a system until it is closed.
	block chan struct{}
	// dropLogouts is how many logout DELETEs, first ones first, get their
	// connection closed instead of an answer, as when a BMC drops a
	// kept-alive connection the client is about to reuse.
	dropLogouts     int
	logoutsReceived int
	// failGets answers GETs of these resource keys with the status given.
	failGets map[string]int
}

func newFixtureBMC(t *testing.T, vendor string) *fixtureBMC {
	t.Helper()
	f := &fixtureBMC{t: t, resources: map[string]json.RawMessage{}, sessions: map[string]string{}}
	dir := filepath.Join(mockupRoot, vendor)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "index.json" {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, filepath.Dir(path))
		if err != nil {
			return err
		}
		if rel == "." {
			rel = ""
		}
		f.resources[filepath.ToSlash(rel)] = body
		return nil
	})
	require.NoError(t, err)
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	return f
}

func resourceKey(urlPath string) string {
	return strings.Trim(strings.TrimPrefix(urlPath, "/redfish/v1"), "/")
}

// set replaces fields of a resource, e.g. set("Systems/1", "PowerState", nil).
func (f *fixtureBMC) set(key, field string, value any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var doc map[string]any
	require.NoError(f.t, json.Unmarshal(f.resources[key], &doc), key)
	if value == deleteField {
		delete(doc, field)
	} else {
		doc[field] = value
	}
	body, err := json.Marshal(doc)
	require.NoError(f.t, err)
	f.resources[key] = body
}

// deleteField as a value to set removes the field.
var deleteField = &struct{}{}

// setResetAction replaces a system's Reset action.
func (f *fixtureBMC) setResetAction(key string, action map[string]any) {
	f.set(key, "Actions", map[string]any{"#ComputerSystem.Reset": action})
}

func (f *fixtureBMC) dropSessions() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions = map[string]string{}
}

func (f *fixtureBMC) counts() (logins, logouts, active int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.logouts, len(f.sessions)
}

func (f *fixtureBMC) inFlightNow() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight
}

func (f *fixtureBMC) receivedResets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.resets...)
}

func (f *fixtureBMC) node(name, system string) inventory.Node {
	return inventory.Node{Name: name, Enabled: true, BMC: inventory.BMC{
		Endpoint: f.server.URL, System: system, Username: fixtureUser, Password: fixturePassword,
	}}
}

func (f *fixtureBMC) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	block, intercept := f.block, f.intercept
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if intercept != nil && intercept(w, r) {
		return
	}
	key := resourceKey(r.URL.Path)
	if block != nil && r.Method == http.MethodGet && strings.HasPrefix(key, "Systems/") {
		<-block
	}
	switch {
	case r.Method == http.MethodGet && key == "":
		f.get(w, key)
	case r.Method == http.MethodPost && key == "SessionService/Sessions":
		f.login(w, r)
	case !f.authorized(r):
		writeRedfishError(w, http.StatusUnauthorized, "Base.1.8.NoValidSession", "There is no valid session established with the implementation.")
	case r.Method == http.MethodDelete && strings.HasPrefix(key, "SessionService/Sessions/"):
		f.logout(w, r)
	case r.Method == http.MethodPost && strings.HasSuffix(key, "/Actions/ComputerSystem.Reset"):
		f.reset(w, r, strings.TrimSuffix(key, "/Actions/ComputerSystem.Reset"))
	case r.Method == http.MethodGet:
		f.get(w, key)
	default:
		writeRedfishError(w, http.StatusMethodNotAllowed, "Base.1.8.OperationNotAllowed", "not allowed")
	}
}

func (f *fixtureBMC) get(w http.ResponseWriter, key string) {
	f.mu.Lock()
	body, ok := f.resources[key]
	failStatus := f.failGets[key]
	f.mu.Unlock()
	if failStatus != 0 {
		writeRedfishError(w, failStatus, "Base.1.8.InternalError", "The request failed due to an internal service error.")
		return
	}
	if !ok {
		writeRedfishError(w, http.StatusNotFound, "Base.1.8.ResourceMissingAtURI", "The resource at the URI was not found.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (f *fixtureBMC) authorized(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if header := r.Header.Get("Authorization"); header != "" {
		f.authHeader = append(f.authHeader, header)
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(fixtureUser+":"+fixturePassword))
		return header == want
	}
	_, ok := f.sessions[r.Header.Get("X-Auth-Token")]
	return ok
}

func (f *fixtureBMC) login(w http.ResponseWriter, r *http.Request) {
	var creds struct{ UserName, Password string }
	if err := json.NewDecoder(r.Body).Decode(&creds); err != nil {
		writeRedfishError(w, http.StatusBadRequest, "Base.1.8.MalformedJSON", err.Error())
		return
	}
	if creds.UserName != fixtureUser || creds.Password != fixturePassword {
		// Echo the attempt back, as careless BMCs do, to prove the driver
		// scrubs it.
		writeRedfishError(w, http.StatusUnauthorized, "Base.1.8.ResourceAtUriUnauthorized",
			fmt.Sprintf("Login failed for user %s with password %s.", creds.UserName, creds.Password))
		return
	}
	f.mu.Lock()
	f.nextID++
	f.logins++
	token := fmt.Sprintf("token-%d", f.nextID)
	sessionPath := fmt.Sprintf("/redfish/v1/SessionService/Sessions/%d", f.nextID)
	f.sessions[token] = sessionPath
	noLocation, location := f.noLocation, f.locationPrefix
	f.mu.Unlock()
	if location == "" {
		// The BMC names itself as it was addressed, as real ones do.
		location = "http://" + r.Host
	}
	w.Header().Set("X-Auth-Token", token)
	if !noLocation {
		w.Header().Set("Location", location+sessionPath)
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"@odata.id": %q, "Id": "%d", "UserName": %q}`, sessionPath, f.nextID, creds.UserName)
}

func (f *fixtureBMC) logout(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logoutsReceived++
	if f.logoutsReceived <= f.dropLogouts {
		conn, _, err := http.NewResponseController(w).Hijack()
		require.NoError(f.t, err)
		_ = conn.Close()
		return
	}
	for token, sessionPath := range f.sessions {
		if sessionPath == strings.TrimRight(r.URL.Path, "/") {
			delete(f.sessions, token)
			f.logouts++
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeRedfishError(w, http.StatusNotFound, "Base.1.8.ResourceMissingAtURI", "no such session")
}

func (f *fixtureBMC) reset(w http.ResponseWriter, r *http.Request, system string) {
	var payload struct{ ResetType string }
	if err := json.NewDecoder(r.Body).Decode(&payload); err != nil {
		writeRedfishError(w, http.StatusBadRequest, "Base.1.8.MalformedJSON", err.Error())
		return
	}
	f.mu.Lock()
	f.resets = append(f.resets, system+" "+payload.ResetType)
	f.resetPaths = append(f.resetPaths, r.URL.Path)
	n := len(f.resets)
	answer := f.answerReset
	f.mu.Unlock()
	if answer == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	reply := answer(payload.ResetType, n)
	if reply.hang {
		<-r.Context().Done()
		return
	}
	if reply.drop {
		conn, _, err := http.NewResponseController(w).Hijack()
		require.NoError(f.t, err)
		_ = conn.Close()
		return
	}
	if reply.status == http.StatusAccepted {
		w.Header().Set("Location", "/redfish/v1/TaskService/Tasks/1")
	}
	w.WriteHeader(reply.status)
	_, _ = w.Write([]byte(reply.body))
}

func redfishErrorBody(messageID, message string) string {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code":    "Base.1.8.GeneralError",
		"message": "A general error has occurred. See ExtendedInfo for more information.",
		"@Message.ExtendedInfo": []map[string]any{{
			"MessageId": messageID, "Message": message, "Severity": "Warning",
		}},
	}})
	return string(body)
}

func writeRedfishError(w http.ResponseWriter, status int, messageID, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(redfishErrorBody(messageID, message)))
}

// shortenRequestTimeout gives the pool's one BMC a transport whose
// requests time out after timeout, for a test that connected and logged in
// with the normal one.
func shortenRequestTimeout(pool *Pool, timeout time.Duration) {
	shared := pool.transports[tlsSettings{}]
	shared.own.CloseIdle()
	pool.opts.RequestTimeout = timeout // what reasons say was waited
	shared.own = newOwnTransport(shared.tlsConfig, pool.opts)
	pool.endpoints[0].httpClient.Transport.(*sessionTransport).base = shared.own
}
