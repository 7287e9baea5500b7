package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// slowFactor is how much slower a "slow" BMC answers.
const slowFactor = 20

const (
	rootPath     = "/redfish/v1"
	sessionsPath = "/redfish/v1/SessionService/Sessions"
	resetSuffix  = "/Actions/ComputerSystem.Reset"
)

type jsonObject = map[string]any

// ServeHTTP answers the node's Redfish API.
func (n *node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.requests.Add(1)
	// A real BMC carries out a login, reset or PATCH it has received even
	// when the client hangs up before the answer; only a read is worth
	// dropping. (A client that cancels mid-login must still log out.)
	if !n.delay(r) && r.Method == http.MethodGet {
		return
	}
	if n.bomb(w) {
		return
	}
	if n.faults.has(Fault5xx) {
		writeError(w, http.StatusServiceUnavailable, "ServiceTemporarilyUnavailable", "The service is temporarily unavailable.")
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/redfish" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, jsonObject{"v1": "/redfish/v1/"})
		return
	case path == rootPath && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, n.serviceRoot())
		return
	case path == sessionsPath && r.Method == http.MethodPost:
		n.handleLogin(w, r)
		return
	}
	if !n.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Redfish"`)
		writeError(w, http.StatusUnauthorized, "NoValidSession", "There is no valid session established with the implementation.")
		return
	}
	n.route(w, r, path)
}

// delay waits the simulated request latency; false when the client gave up.
func (n *node) delay(r *http.Request) bool {
	latency := n.latency()
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

func (n *node) latency() time.Duration {
	if n.faults.has(FaultSlow) {
		return n.fleet.timing.RequestLatency * slowFactor
	}
	return n.fleet.timing.RequestLatency
}

func (n *node) authenticated(r *http.Request) bool {
	if token := r.Header.Get("X-Auth-Token"); token != "" {
		return n.tokenValid(token)
	}
	username, password, ok := r.BasicAuth()
	return ok && n.credentialsMatch(username, password)
}

func (n *node) route(w http.ResponseWriter, r *http.Request, path string) {
	if id, ok := strings.CutPrefix(path, sessionsPath+"/"); ok && r.Method == http.MethodDelete {
		n.handleLogout(w, id)
		return
	}
	methods, known := n.profile.routes()[path]
	if !known {
		writeError(w, http.StatusNotFound, "ResourceMissingAtURI", fmt.Sprintf("The resource at the URI %s was not found.", path))
		return
	}
	handler, allowed := methods[r.Method]
	if !allowed {
		writeError(w, http.StatusMethodNotAllowed, "OperationNotAllowed", fmt.Sprintf("%s is not allowed on %s.", r.Method, path))
		return
	}
	handler(n, w, r)
}

// handler answers one method on one resource of a node.
type handler func(n *node, w http.ResponseWriter, r *http.Request)

// routes maps resource paths (without trailing slash) to the handlers per
// method this profile offers. Built once per profile, shared by its nodes.
func (p *profile) routes() map[string]map[string]handler {
	p.routesOnce.Do(func() {
		system, manager := p.systemPath(), p.managerPath()
		table := map[string]map[string]handler{
			"/redfish/v1/SessionService": {http.MethodGet: (*node).getSessionService},
			sessionsPath:                 {http.MethodGet: (*node).getSessions},
			"/redfish/v1/Systems":        {http.MethodGet: (*node).getSystems},
			system:                       {http.MethodGet: (*node).getSystem, http.MethodPatch: (*node).patchSystem},
			system + resetSuffix:         {http.MethodPost: (*node).postReset},
			"/redfish/v1/Managers":       {http.MethodGet: (*node).getManagers},
			manager:                      {http.MethodGet: (*node).getManager},
		}
		if p.resetViaActionInfo {
			table[system+"/ResetActionInfo"] = map[string]handler{http.MethodGet: (*node).getResetActionInfo}
		}
		if collection := p.mediaCollectionPath(); collection != "" {
			table[collection] = map[string]handler{http.MethodGet: (*node).getVirtualMediaCollection}
		}
		for slot := range p.virtualMedia {
			media := p.mediaPath(slot)
			table[media] = map[string]handler{http.MethodGet: func(n *node, w http.ResponseWriter, _ *http.Request) { n.getVirtualMedia(w, slot) }}
			table[media+"/Actions/VirtualMedia.InsertMedia"] = map[string]handler{http.MethodPost: func(n *node, w http.ResponseWriter, r *http.Request) { n.insertMedia(w, r, slot) }}
			table[media+"/Actions/VirtualMedia.EjectMedia"] = map[string]handler{http.MethodPost: func(n *node, w http.ResponseWriter, _ *http.Request) { n.ejectMedia(w, slot) }}
		}
		p.routeTable = table
	})
	return p.routeTable
}

func (n *node) serviceRoot() jsonObject {
	p := n.profile
	return jsonObject{
		"@odata.id":      p.odataID(rootPath),
		"@odata.type":    "#ServiceRoot.v1_5_0.ServiceRoot",
		"Id":             "RootService",
		"Name":           "Root Service",
		"RedfishVersion": "1.6.0",
		"UUID":           fmt.Sprintf("00000000-0000-4000-8000-%012x", n.index),
		"Systems":        n.link("/redfish/v1/Systems"),
		"Managers":       n.link("/redfish/v1/Managers"),
		"SessionService": n.link("/redfish/v1/SessionService"),
		"Links":          jsonObject{"Sessions": n.link(sessionsPath)},
	}
}

func (n *node) link(path string) jsonObject { return linkTo(n.profile, path) }

func linkTo(p *profile, path string) jsonObject { return jsonObject{"@odata.id": p.odataID(path)} }

func (n *node) writeCollection(w http.ResponseWriter, name, odataType string, members ...string) {
	links := make([]jsonObject, len(members))
	for i, member := range members {
		links[i] = n.link(member)
	}
	writeJSON(w, http.StatusOK, jsonObject{
		"@odata.id":           n.profile.odataID("/redfish/v1/" + name),
		"@odata.type":         "#" + odataType + "." + odataType,
		"Name":                name + " Collection",
		"Members":             links,
		"Members@odata.count": len(links),
	})
}

func (n *node) getSystems(w http.ResponseWriter, _ *http.Request) {
	n.writeCollection(w, "Systems", "ComputerSystemCollection", n.profile.systemPath())
}

func (n *node) getManagers(w http.ResponseWriter, _ *http.Request) {
	n.writeCollection(w, "Managers", "ManagerCollection", n.profile.managerPath())
}

func (n *node) getVirtualMediaCollection(w http.ResponseWriter, _ *http.Request) {
	p := n.profile
	members := make([]string, len(p.virtualMedia))
	for slot := range p.virtualMedia {
		members[slot] = p.mediaPath(slot)
	}
	n.writeCollection(w, strings.TrimPrefix(p.mediaCollectionPath(), "/redfish/v1/"), "VirtualMediaCollection", members...)
}

func (n *node) getSessionService(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jsonObject{
		"@odata.id":      n.profile.odataID("/redfish/v1/SessionService"),
		"@odata.type":    "#SessionService.v1_1_2.SessionService",
		"Id":             "SessionService",
		"Name":           "Session Service",
		"ServiceEnabled": true,
		"SessionTimeout": 1800,
		"Sessions":       n.link(sessionsPath),
	})
}

func (n *node) getSessions(w http.ResponseWriter, _ *http.Request) {
	ids := n.sessionIDs()
	members := make([]string, len(ids))
	for i, id := range ids {
		members[i] = sessionsPath + "/" + id
	}
	n.writeCollection(w, "SessionService/Sessions", "SessionCollection", members...)
}

type loginRequest struct {
	UserName string `json:"UserName"`
	Password string `json:"Password"`
}

func (n *node) handleLogin(w http.ResponseWriter, r *http.Request) {
	var login loginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&login); err != nil {
		n.record("Login", "malformed body", http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	if !n.credentialsMatch(login.UserName, login.Password) {
		n.record("Login", "bad credentials", http.StatusUnauthorized)
		writeError(w, http.StatusUnauthorized, "NoValidSession", "Invalid user name or password.")
		return
	}
	id, token, ok := n.login()
	if !ok {
		n.record("Login", "session limit reached", http.StatusServiceUnavailable)
		writeError(w, http.StatusServiceUnavailable, "SessionLimitExceeded", "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.")
		return
	}
	n.record("Login", "session "+id, http.StatusCreated)
	location := n.profile.odataID(sessionsPath + "/" + id)
	w.Header().Set("X-Auth-Token", token)
	shape := n.profile.login
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

func (n *node) handleLogout(w http.ResponseWriter, id string) {
	if !n.logout(id) {
		n.record("Logout", "session "+id, http.StatusNotFound)
		writeError(w, http.StatusNotFound, "ResourceMissingAtURI", "No session "+id+".")
		return
	}
	n.record("Logout", "session "+id, http.StatusNoContent)
	w.WriteHeader(http.StatusNoContent)
}

// systemObject is the ComputerSystem resource of a node of profile p in the
// given state. It is encoded once per profile, with placeholders for the
// state (see systemTemplate).
func systemObject(p *profile, state systemReading) jsonObject {
	resetAction := jsonObject{"target": p.odataID(p.systemPath() + resetSuffix)}
	if p.resetViaActionInfo {
		resetAction["@Redfish.ActionInfo"] = p.odataID(p.systemPath() + "/ResetActionInfo")
	} else {
		resetAction["ResetType@Redfish.AllowableValues"] = p.resetTypes
	}
	var power any // null
	if !state.powerNull {
		power = state.power
	}
	system := jsonObject{
		"@odata.id":    p.odataID(p.systemPath()),
		"@odata.type":  "#ComputerSystem.v1_13_0.ComputerSystem",
		"Id":           p.systemID,
		"Name":         state.name,
		"SystemType":   "Physical",
		"PowerState":   power,
		"BootProgress": jsonObject{"LastState": state.boot},
		"Status":       jsonObject{"State": "Enabled", "Health": "OK"},
		"Boot":         bootObject(p, state),
		"Links":        jsonObject{"ManagedBy": []jsonObject{linkTo(p, p.managerPath())}},
		"Actions":      jsonObject{"#ComputerSystem.Reset": resetAction},
	}
	if p.mediaHome == mediaSystem {
		system["VirtualMedia"] = linkTo(p, p.mediaCollectionPath())
	}
	return system
}

// bootObject is the Boot property; Cray EX has only a boot order there.
func bootObject(p *profile, state systemReading) jsonObject {
	if !p.bootOverride {
		return jsonObject{"BootOrder": []string{"ME0-PXE-IP4", "HSN0-PXE-IP4"}}
	}
	boot := jsonObject{
		"BootSourceOverrideEnabled":                         state.bootEnabled,
		"BootSourceOverrideEnabled@Redfish.AllowableValues": bootEnabledValues,
		"BootSourceOverrideTarget":                          state.bootTarget,
		"BootSourceOverrideTarget@Redfish.AllowableValues":  p.bootTargets,
		"BootSourceOverrideMode":                            "UEFI",
	}
	if p.httpBoot() {
		var uri any // null until set
		if state.httpBootURI != "" {
			uri = state.httpBootURI
		}
		boot["HttpBootUri"] = uri
	}
	return boot
}

var bootEnabledValues = []string{"Disabled", "Once", "Continuous"}

type bootPatch struct {
	Boot *bootSettings `json:"Boot"`
}

// bootSettings are the override properties a PATCH may set; nil leaves one
// unchanged.
type bootSettings struct {
	BootSourceOverrideEnabled *string `json:"BootSourceOverrideEnabled"`
	BootSourceOverrideTarget  *string `json:"BootSourceOverrideTarget"`
	HTTPBootURI               *string `json:"HttpBootUri"`
}

func (n *node) patchSystem(w http.ResponseWriter, r *http.Request) {
	if !n.profile.bootOverride {
		n.record("PatchBoot", "boot override unsupported", http.StatusMethodNotAllowed)
		writeError(w, http.StatusMethodNotAllowed, "OperationNotAllowed", "PATCH is not allowed on this system.")
		return
	}
	var patch bootPatch
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&patch); err != nil || patch.Boot == nil {
		n.record("PatchBoot", "malformed body", http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "MalformedJSON", "The request body must hold a Boot object.")
		return
	}
	if patch.Boot.HTTPBootURI != nil && !n.profile.httpBoot() {
		n.record("PatchBoot", "HttpBootUri not offered", http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "PropertyUnknown", "The property HttpBootUri is not in the list of valid properties for the resource.")
		return
	}
	detail, ok := n.overrideBoot(*patch.Boot)
	if !ok {
		writeError(w, http.StatusBadRequest, "PropertyValueNotInList", fmt.Sprintf("Boot override %s is not supported.", detail))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// overrideBoot applies the given override settings if the profile allows
// them, and records the attempt as "target/enabled", or
// "target/enabled/uri" once an HTTP boot URI is set, so tests can read
// what a driver asked for.
func (n *node) overrideBoot(patch bootSettings) (detail string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	newEnabled, newTarget, newURI := n.bootEnabled, n.bootTarget, n.httpBootURI
	if patch.BootSourceOverrideEnabled != nil {
		newEnabled = *patch.BootSourceOverrideEnabled
	}
	if patch.BootSourceOverrideTarget != nil {
		newTarget = *patch.BootSourceOverrideTarget
	}
	if patch.HTTPBootURI != nil {
		newURI = *patch.HTTPBootURI
	}
	detail = newTarget + "/" + newEnabled
	if newURI != "" {
		detail += "/" + newURI
	}
	ok = slices.Contains(bootEnabledValues, newEnabled) && slices.Contains(n.profile.bootTargets, newTarget)
	status := http.StatusBadRequest
	if ok {
		n.bootEnabled, n.bootTarget, n.httpBootURI = newEnabled, newTarget, newURI
		status = http.StatusNoContent
	}
	n.recordLocked("PatchBoot", detail, status)
	return detail, ok
}

func (n *node) getResetActionInfo(w http.ResponseWriter, _ *http.Request) {
	p := n.profile
	writeJSON(w, http.StatusOK, jsonObject{
		"@odata.id":   p.odataID(p.systemPath() + "/ResetActionInfo"),
		"@odata.type": "#ActionInfo.v1_1_2.ActionInfo",
		"Id":          "ResetActionInfo",
		"Name":        "Reset Action Info",
		"Parameters": []jsonObject{{
			"Name": "ResetType", "Required": true, "DataType": "String",
			"AllowableValues": p.resetTypes,
		}},
	})
}

type resetRequest struct {
	ResetType string `json:"ResetType"`
}

func (n *node) postReset(w http.ResponseWriter, r *http.Request) {
	var req resetRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		n.record("Reset", "malformed body", http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "MalformedJSON", "The request body submitted was malformed JSON.")
		return
	}
	switch n.reset(req.ResetType) {
	case resetUnsupported:
		writeError(w, http.StatusBadRequest, "ActionParameterNotSupported",
			fmt.Sprintf("The parameter ResetType with value %q is not supported by the action ComputerSystem.Reset.", req.ResetType))
	case resetBusy:
		writeError(w, http.StatusConflict, "ResourceInUse", "The system is busy with a power transition; try again later.")
	default:
		n.answerReset(w)
	}
}

func (n *node) answerReset(w http.ResponseWriter) {
	status := n.profile.resetStatus
	if status == http.StatusOK {
		// iLO answers 200 with a Success message.
		writeJSON(w, status, jsonObject{"error": jsonObject{
			"code":                  "iLO.0.10.ExtendedInfo",
			"message":               "See @Message.ExtendedInfo for more information.",
			"@Message.ExtendedInfo": []jsonObject{{"MessageId": "Base.1.4.Success"}},
		}})
		return
	}
	w.WriteHeader(status)
}

func (n *node) getManager(w http.ResponseWriter, _ *http.Request) {
	p := n.profile
	manager := jsonObject{
		"@odata.id":   p.odataID(p.managerPath()),
		"@odata.type": "#Manager.v1_5_0.Manager",
		"Id":          p.managerID,
		"Name":        "Manager",
		"ManagerType": "BMC",
		"Status":      jsonObject{"State": "Enabled", "Health": "OK"},
		"Links":       jsonObject{"ManagerForServers": []jsonObject{n.link(p.systemPath())}},
	}
	if p.mediaHome == mediaManager {
		manager["VirtualMedia"] = n.link(p.mediaCollectionPath())
	}
	writeJSON(w, http.StatusOK, manager)
}

func (n *node) getVirtualMedia(w http.ResponseWriter, slot int) {
	p := n.profile
	n.mu.Lock()
	media := n.media[slot]
	n.mu.Unlock()
	var image any = media.image
	if !media.inserted {
		image = p.emptyImage
	}
	path := p.mediaPath(slot)
	writeJSON(w, http.StatusOK, jsonObject{
		"@odata.id":   p.odataID(path),
		"@odata.type": "#VirtualMedia.v1_3_0.VirtualMedia",
		"Id":          p.virtualMedia[slot],
		"Name":        "Virtual Removable Media",
		"MediaTypes":  []string{"CD", "DVD"},
		"Image":       image,
		"Inserted":    media.inserted,
		"Actions": jsonObject{
			"#VirtualMedia.InsertMedia": jsonObject{"target": p.odataID(path + "/Actions/VirtualMedia.InsertMedia")},
			"#VirtualMedia.EjectMedia":  jsonObject{"target": p.odataID(path + "/Actions/VirtualMedia.EjectMedia")},
		},
	})
}

type insertMediaRequest struct {
	Image string `json:"Image"`
}

func (n *node) insertMedia(w http.ResponseWriter, r *http.Request, slot int) {
	var req insertMediaRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.Image == "" {
		n.record("InsertMedia", "missing Image", http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "PropertyMissing", "The property Image is a required property and must be included in the request.")
		return
	}
	n.mu.Lock()
	n.media[slot] = mediaState{image: req.Image, inserted: true}
	n.mu.Unlock()
	n.record("InsertMedia", req.Image, http.StatusNoContent)
	w.WriteHeader(http.StatusNoContent)
}

func (n *node) ejectMedia(w http.ResponseWriter, slot int) {
	n.mu.Lock()
	n.media[slot] = mediaState{}
	n.mu.Unlock()
	n.record("EjectMedia", n.profile.virtualMedia[slot], http.StatusNoContent)
	w.WriteHeader(http.StatusNoContent)
}

// Header values shared by every JSON answer; assigning them directly skips
// Header.Set's key canonicalisation and a slice allocation per request.
var (
	contentTypeJSON = []string{"application/json"}
	odataVersion4   = []string{"4.0"}
)

func writeJSONHeader(w http.ResponseWriter, status int) {
	header := w.Header()
	header["Content-Type"] = contentTypeJSON
	header["Odata-Version"] = odataVersion4
	w.WriteHeader(status)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	writeJSONHeader(w, status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeError answers with a Redfish error body carrying one Base message.
func writeError(w http.ResponseWriter, status int, messageID, message string) {
	writeJSON(w, status, jsonObject{"error": jsonObject{
		"code":    "Base.1.8.GeneralError",
		"message": "A general error has occurred. See ExtendedInfo for more information.",
		"@Message.ExtendedInfo": []jsonObject{{
			"@odata.type": "#Message.v1_0_0.Message",
			"MessageId":   "Base.1.8." + messageID,
			"Message":     message,
			"Severity":    "Warning",
		}},
	}})
}
