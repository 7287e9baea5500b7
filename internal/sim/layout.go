package sim

import (
	"net/http"
	"strconv"
	"strings"
)

const systemsPath = "/redfish/v1/Systems"

// layout is a profile as the BMCs of one fleet present it. With one system
// per BMC it is the vendor's capture as is. With several (a Cray EX node
// card, a multi-node chassis) the systems get numbered ids (Node0, Node1…;
// System1, System2…) and each keeps its virtual media under
// Systems/<id>/VirtualMedia: one CD under the BMC's manager could not say
// which of its systems boots from it. A layout belongs to one fleet, since
// fleets in one process may group their nodes differently; its routes and
// system template are built once and shared by the fleet's BMCs of that
// profile.
type layout struct {
	*profile
	numbered bool
	media    mediaHome

	bmcRoutes    map[string]map[string]bmcHandler
	systemRoutes map[string]map[string]systemHandler // by path below Systems/<id>
	system       *systemTemplate
}

// bmcHandler answers one method on a resource of the BMC as a whole.
type bmcHandler func(b *bmc, w http.ResponseWriter, r *http.Request)

// systemHandler answers one method on a resource of one system.
type systemHandler func(n *node, w http.ResponseWriter, r *http.Request)

func newLayout(p *profile, perBMC int) *layout {
	l := &layout{profile: p, numbered: perBMC > 1, media: p.mediaHome}
	if l.numbered && l.media == mediaManager {
		l.media = mediaSystem
	}
	l.buildRoutes()
	l.system = newSystemTemplate(l)
	return l
}

// idOf is the id of the system in the given slot of its BMC.
func (l *layout) idOf(slot int) string {
	if !l.numbered {
		return l.systemID
	}
	return l.numberedIDPrefix + strconv.Itoa(l.firstNumberedID+slot)
}

// slotOf is the inverse of idOf; false for an id no system of this layout
// has (the caller checks the slot against its BMC's system count).
func (l *layout) slotOf(id string) (int, bool) {
	if !l.numbered {
		return 0, id == l.systemID
	}
	digits, ok := strings.CutPrefix(id, l.numberedIDPrefix)
	if !ok {
		return 0, false
	}
	number, err := strconv.Atoi(digits)
	if err != nil || strconv.Itoa(number) != digits || number < l.firstNumberedID {
		return 0, false
	}
	return number - l.firstNumberedID, true
}

func systemPath(id string) string { return systemsPath + "/" + id }

// pathOf is the path of the system in the given slot.
func (l *layout) pathOf(slot int) string { return systemPath(l.idOf(slot)) }

// mediaCollectionPath is where the VirtualMedia collection of the system
// with the given id is, "" for none.
func (l *layout) mediaCollectionPath(id string) string {
	switch l.media {
	case mediaManager:
		return l.managerPath() + "/VirtualMedia"
	case mediaSystem:
		return systemPath(id) + "/VirtualMedia"
	default:
		return ""
	}
}

func (l *layout) mediaPath(id string, slot int) string {
	return l.mediaCollectionPath(id) + "/" + l.virtualMedia[slot]
}

// buildRoutes maps resource paths (without trailing slash) to the handlers
// per method this layout offers: the BMC's own resources by full path, a
// system's by the path below Systems/<id>.
func (l *layout) buildRoutes() {
	l.bmcRoutes = map[string]map[string]bmcHandler{
		"/redfish/v1/SessionService": {http.MethodGet: (*bmc).getSessionService},
		sessionsPath:                 {http.MethodGet: (*bmc).getSessions},
		systemsPath:                  {http.MethodGet: (*bmc).getSystems},
		"/redfish/v1/Managers":       {http.MethodGet: (*bmc).getManagers},
		l.managerPath():              {http.MethodGet: (*bmc).getManager},
		eventServicePath:             {http.MethodGet: (*bmc).getEventService},
		sseStreamPath:                {http.MethodGet: (*bmc).getSSE},
	}
	l.systemRoutes = map[string]map[string]systemHandler{
		"":          {http.MethodGet: (*node).getSystem, http.MethodPatch: (*node).patchSystem},
		resetSuffix: {http.MethodPost: (*node).postReset},
	}
	if l.resetViaActionInfo {
		l.systemRoutes["/ResetActionInfo"] = map[string]systemHandler{http.MethodGet: (*node).getResetActionInfo}
	}
	media := map[string]map[string]systemHandler{}
	if l.media != noMedia {
		media["/VirtualMedia"] = map[string]systemHandler{http.MethodGet: (*node).getVirtualMediaCollection}
		for slot, id := range l.virtualMedia {
			base := "/VirtualMedia/" + id
			media[base] = map[string]systemHandler{http.MethodGet: func(n *node, w http.ResponseWriter, _ *http.Request) { n.getVirtualMedia(w, slot) }}
			media[base+"/Actions/VirtualMedia.InsertMedia"] = map[string]systemHandler{http.MethodPost: func(n *node, w http.ResponseWriter, r *http.Request) { n.insertMedia(w, r, slot) }}
			media[base+"/Actions/VirtualMedia.EjectMedia"] = map[string]systemHandler{http.MethodPost: func(n *node, w http.ResponseWriter, _ *http.Request) { n.ejectMedia(w, slot) }}
		}
	}
	for suffix, methods := range media {
		if l.media == mediaSystem {
			l.systemRoutes[suffix] = methods
			continue
		}
		// Under the manager, which in this layout serves one system.
		onlySystem := map[string]bmcHandler{}
		for method, h := range methods {
			onlySystem[method] = func(b *bmc, w http.ResponseWriter, r *http.Request) { h(b.nodes[0], w, r) }
		}
		l.bmcRoutes[l.managerPath()+suffix] = onlySystem
	}
}
