package sim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// slowFactor is how much slower a "slow" BMC answers.
const slowFactor = 20

const (
	rootPath           = "/redfish/v1"
	sessionServicePath = "/redfish/v1/SessionService"
	sessionsPath       = sessionServicePath + "/Sessions"
)

// bmc is one simulated BMC endpoint: its listener, account, sessions and
// session limit, serving the systems of one or more nodes.
type bmc struct {
	index    int
	endpoint string
	layout   *layout
	fleet    *fleetConfig
	faults   faultSet // only the per-BMC kinds
	password string
	nodes    []*node // in slot order
	// requests counts every HTTP request the BMC received, so benchmarks
	// can report requests per node.
	requests atomic.Int64
	events   eventHub

	mu           sync.Mutex
	sessions     map[string]string // token → session id
	sessionSeq   int
	logins       int
	failedLogins int
}

func newBMC(index int, l *layout, fleet *fleetConfig, faults faultSet, password string) *bmc {
	b := &bmc{index: index, layout: l, fleet: fleet, faults: faults.forBMC(), password: password}
	if b.faults.has(FaultWrongCredentials) {
		b.password = randomHex(12)
	}
	return b
}

// BMCStatus is one BMC endpoint as the control endpoint's GET /bmcs
// reports it.
type BMCStatus struct {
	Endpoint string   `json:"endpoint"`
	Profile  string   `json:"profile"`
	Nodes    []string `json:"nodes"`
	// Logins counts successful session logins.
	Logins int `json:"logins"`
	// FailedLogins counts session logins refused for bad credentials and
	// requests whose Basic auth credentials were wrong: both count toward
	// an account lockout on a real BMC.
	FailedLogins   int   `json:"failed_logins"`
	ActiveSessions int   `json:"active_sessions"`
	Requests       int64 `json:"requests"` // HTTP requests received, Redfish or not
	// SSEStreams are the Server-Sent Event streams open now, SSEEvents the
	// events written to them (one sent on two streams counts twice).
	SSEStreams int   `json:"sse_streams"`
	SSEEvents  int64 `json:"sse_events"`
}

func (b *bmc) status() BMCStatus {
	names := make([]string, len(b.nodes))
	for i, n := range b.nodes {
		names[i] = n.name
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return BMCStatus{
		Endpoint: b.endpoint, Profile: b.layout.name, Nodes: names,
		Logins: b.logins, FailedLogins: b.failedLogins, ActiveSessions: len(b.sessions),
		Requests: b.requests.Load(), SSEStreams: b.events.openStreams(), SSEEvents: b.events.sent.Load(),
	}
}

// ServeHTTP answers the BMC's Redfish API.
func (b *bmc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.requests.Add(1)
	if b.faults.has(FaultSilent) {
		select {
		case <-r.Context().Done():
		case <-b.fleet.closing:
		}
		return
	}
	// A real BMC carries out a login, reset or PATCH it has received even
	// when the client hangs up before the answer; only a read is worth
	// dropping. (A client that cancels mid-login must still log out.)
	if !b.delay(r) && r.Method == http.MethodGet {
		return
	}
	if b.bomb(w) {
		return
	}
	if b.faults.has(Fault5xx) {
		writeError(w, http.StatusServiceUnavailable, "ServiceTemporarilyUnavailable", "The service is temporarily unavailable.")
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	if b.lacks(path) {
		writeNotFound(w, path)
		return
	}
	switch {
	case path == "/redfish" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, jsonObject{"v1": "/redfish/v1/"})
		return
	case path == rootPath && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, b.serviceRoot())
		return
	case path == sessionsPath && r.Method == http.MethodPost:
		b.handleLogin(w, r)
		return
	}
	if !b.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Redfish"`)
		writeError(w, http.StatusUnauthorized, "NoValidSession", "There is no valid session established with the implementation.")
		return
	}
	b.route(w, r, path)
}

// lacks says whether path is in a service this BMC's faults take away.
func (b *bmc) lacks(path string) bool {
	under := func(service string) bool { return path == service || strings.HasPrefix(path, service+"/") }
	return b.faults.has(FaultNoSessionService) && under(sessionServicePath) ||
		b.faults.has(FaultNoEventService) && under(eventServicePath) ||
		b.faults.has(FaultNoSSE) && under(sseStreamPath)
}

// delay waits the simulated request latency; false when the client gave up.
func (b *bmc) delay(r *http.Request) bool {
	latency := b.latency()
	if latency <= 0 {
		return true
	}
	timer := time.NewTimer(latency)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (b *bmc) latency() time.Duration {
	if b.faults.has(FaultSlow) {
		return b.fleet.timing.RequestLatency * slowFactor
	}
	return b.fleet.timing.RequestLatency
}

// authenticated checks the session token or Basic credentials; wrong Basic
// credentials count as a failed login, since a real BMC locks the account
// after a few of them as it does after failed session logins.
func (b *bmc) authenticated(r *http.Request) bool {
	if token := r.Header.Get("X-Auth-Token"); token != "" {
		return b.tokenValid(token)
	}
	username, password, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if b.credentialsMatch(username, password) {
		return true
	}
	b.mu.Lock()
	b.failedLogins++
	b.mu.Unlock()
	return false
}

func (b *bmc) route(w http.ResponseWriter, r *http.Request, path string) {
	if id, ok := strings.CutPrefix(path, sessionsPath+"/"); ok && r.Method == http.MethodDelete {
		b.handleLogout(w, id)
		return
	}
	if methods, known := b.layout.bmcRoutes[path]; known {
		if h, ok := allowed(w, r, path, methods); ok {
			h(b, w, r)
		}
		return
	}
	if n, below, ok := b.systemOf(path); ok {
		if methods, known := b.layout.systemRoutes[below]; known {
			if h, ok := allowed(w, r, path, methods); ok {
				h(n, w, r)
			}
			return
		}
	}
	writeNotFound(w, path)
}

// allowed picks the handler for the request's method, or answers 405.
func allowed[H any](w http.ResponseWriter, r *http.Request, path string, methods map[string]H) (H, bool) {
	h, ok := methods[r.Method]
	if !ok {
		writeError(w, http.StatusMethodNotAllowed, "OperationNotAllowed", fmt.Sprintf("%s is not allowed on %s.", r.Method, path))
	}
	return h, ok
}

// systemOf finds the node whose system path starts path, and the rest of
// path below it.
func (b *bmc) systemOf(path string) (n *node, below string, ok bool) {
	rest, ok := strings.CutPrefix(path, systemsPath+"/")
	if !ok {
		return nil, "", false
	}
	id := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		id, below = rest[:i], rest[i:]
	}
	slot, ok := b.layout.slotOf(id)
	if !ok || slot >= len(b.nodes) {
		return nil, "", false
	}
	return b.nodes[slot], below, true
}

// record notes an action on the BMC as a whole (a login, a logout) in the
// log of every node behind it, so each node's log holds, in time order,
// everything its system went through.
func (b *bmc) record(kind, detail string, status int) {
	for _, n := range b.nodes {
		n.record(kind, detail, status)
	}
}

// credentialsMatch compares in constant time so the simulator does not
// teach clients bad habits about timing.
func (b *bmc) credentialsMatch(username, password string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(username), []byte(b.fleet.username))
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(b.password))
	return userOK&passOK == 1
}

// sessionLimit is the number of concurrent sessions this BMC allows.
func (b *bmc) sessionLimit() int {
	if b.faults.has(FaultSessionLimit) {
		return 0
	}
	return b.fleet.sessionLimit
}

// login opens a session; ok is false when the session limit is reached.
func (b *bmc) login() (id, token string, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sessions) >= b.sessionLimit() {
		return "", "", false
	}
	if b.sessions == nil {
		b.sessions = make(map[string]string)
	}
	b.sessionSeq++
	b.logins++
	id = strconv.Itoa(b.sessionSeq)
	token = randomHex(16)
	b.sessions[token] = id
	return id, token, true
}

func (b *bmc) tokenValid(token string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.sessions[token]
	return ok
}

// logout ends the session with the given id.
func (b *bmc) logout(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for token, sessionID := range b.sessions {
		if sessionID == id {
			delete(b.sessions, token)
			return true
		}
	}
	return false
}

func (b *bmc) activeSessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

func (b *bmc) sessionIDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, 0, len(b.sessions))
	for _, id := range b.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (b *bmc) serviceRoot() jsonObject {
	root := jsonObject{
		"@odata.id":      b.layout.odataID(rootPath),
		"@odata.type":    "#ServiceRoot.v1_5_0.ServiceRoot",
		"Id":             "RootService",
		"Name":           "Root Service",
		"RedfishVersion": "1.6.0",
		"UUID":           fmt.Sprintf("00000000-0000-4000-8000-%012x", b.index),
		"Systems":        b.link(systemsPath),
		"Managers":       b.link("/redfish/v1/Managers"),
	}
	if !b.faults.has(FaultNoSessionService) {
		root["SessionService"] = b.link(sessionServicePath)
		root["Links"] = jsonObject{"Sessions": b.link(sessionsPath)}
	}
	if !b.faults.has(FaultNoEventService) {
		root["EventService"] = b.link(eventServicePath)
	}
	return root
}

func (b *bmc) link(path string) jsonObject { return linkTo(b.layout.profile, path) }

func linkTo(p *profile, path string) jsonObject { return jsonObject{"@odata.id": p.odataID(path)} }

func (b *bmc) getSystems(w http.ResponseWriter, _ *http.Request) {
	members := make([]string, len(b.nodes))
	for slot := range b.nodes {
		members[slot] = b.layout.pathOf(slot)
	}
	writeCollection(w, b.layout.profile, "Systems", "ComputerSystemCollection", members...)
}

func (b *bmc) getManagers(w http.ResponseWriter, _ *http.Request) {
	writeCollection(w, b.layout.profile, "Managers", "ManagerCollection", b.layout.managerPath())
}

func (b *bmc) getManager(w http.ResponseWriter, _ *http.Request) {
	l := b.layout
	systems := make([]jsonObject, len(b.nodes))
	for slot := range b.nodes {
		systems[slot] = b.link(l.pathOf(slot))
	}
	manager := jsonObject{
		"@odata.id":   l.odataID(l.managerPath()),
		"@odata.type": "#Manager.v1_5_0.Manager",
		"Id":          l.managerID,
		"Name":        "Manager",
		"ManagerType": "BMC",
		"Status":      jsonObject{"State": "Enabled", "Health": "OK"},
		"Links":       jsonObject{"ManagerForServers": systems},
	}
	if l.media == mediaManager {
		manager["VirtualMedia"] = b.link(l.mediaCollectionPath(""))
	}
	writeJSON(w, http.StatusOK, manager)
}

func (b *bmc) getSessionService(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jsonObject{
		"@odata.id":      b.layout.odataID(sessionServicePath),
		"@odata.type":    "#SessionService.v1_1_2.SessionService",
		"Id":             "SessionService",
		"Name":           "Session Service",
		"ServiceEnabled": true,
		"SessionTimeout": 1800,
		"Sessions":       b.link(sessionsPath),
	})
}

func (b *bmc) getSessions(w http.ResponseWriter, _ *http.Request) {
	ids := b.sessionIDs()
	members := make([]string, len(ids))
	for i, id := range ids {
		members[i] = sessionsPath + "/" + id
	}
	writeCollection(w, b.layout.profile, "SessionService/Sessions", "SessionCollection", members...)
}

type loginRequest struct {
	UserName string `json:"UserName"`
	Password string `json:"Password"`
}

func (b *bmc) handleLogin(w http.ResponseWriter, r *http.Request) {
	var login loginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&login); err != nil {
		b.record("Login", "malformed body", http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	if !b.credentialsMatch(login.UserName, login.Password) {
		b.mu.Lock()
		b.failedLogins++
		b.mu.Unlock()
		b.record("Login", "bad credentials", http.StatusUnauthorized)
		writeError(w, http.StatusUnauthorized, "NoValidSession", "Invalid user name or password.")
		return
	}
	id, token, ok := b.login()
	if !ok {
		b.record("Login", "session limit reached", http.StatusServiceUnavailable)
		writeError(w, http.StatusServiceUnavailable, "SessionLimitExceeded", "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.")
		return
	}
	b.record("Login", "session "+id, http.StatusCreated)
	location := b.layout.odataID(sessionsPath + "/" + id)
	w.Header().Set("X-Auth-Token", token)
	shape := b.layout.login
	if shape != loginNoLocation {
		w.Header().Set("Location", location)
	}
	if shape == loginNoBody {
		w.WriteHeader(http.StatusCreated)
		return
	}
	writeJSON(w, http.StatusCreated, jsonObject{
		"@odata.id":   location,
		"@odata.type": "#Session.v1_0_0.Session",
		"Id":          id,
		"Name":        "User Session",
		"UserName":    login.UserName,
	})
}

func (b *bmc) handleLogout(w http.ResponseWriter, id string) {
	if !b.logout(id) {
		b.record("Logout", "session "+id, http.StatusNotFound)
		writeError(w, http.StatusNotFound, "ResourceMissingAtURI", "No session "+id+".")
		return
	}
	b.record("Logout", "session "+id, http.StatusNoContent)
	w.WriteHeader(http.StatusNoContent)
}
