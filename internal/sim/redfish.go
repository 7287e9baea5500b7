package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

const resetSuffix = "/Actions/ComputerSystem.Reset"

type jsonObject = map[string]any

func writeCollection(w http.ResponseWriter, p *profile, name, odataType string, members ...string) {
	links := make([]jsonObject, len(members))
	for i, member := range members {
		links[i] = linkTo(p, member)
	}
	writeJSON(w, http.StatusOK, jsonObject{
		"@odata.id":           p.odataID("/redfish/v1/" + name),
		"@odata.type":         "#" + odataType + "." + odataType,
		"Name":                name + " Collection",
		"Members":             links,
		"Members@odata.count": len(links),
	})
}

func (n *node) getVirtualMediaCollection(w http.ResponseWriter, _ *http.Request) {
	l, id := n.layout, n.id()
	members := make([]string, len(l.virtualMedia))
	for slot := range l.virtualMedia {
		members[slot] = l.mediaPath(id, slot)
	}
	writeCollection(w, l.profile, strings.TrimPrefix(l.mediaCollectionPath(id), "/redfish/v1/"), "VirtualMediaCollection", members...)
}

// systemObject is the ComputerSystem resource of a system of layout l in
// the given state. It is encoded once per layout, with placeholders for the
// state (see systemTemplate).
func systemObject(l *layout, state systemReading) jsonObject {
	path := systemPath(state.systemID)
	resetAction := jsonObject{"target": l.odataID(path + resetSuffix)}
	if l.resetViaActionInfo {
		resetAction["@Redfish.ActionInfo"] = l.odataID(path + "/ResetActionInfo")
	} else {
		resetAction["ResetType@Redfish.AllowableValues"] = l.resetTypes
	}
	var power any // null
	if !state.powerNull {
		power = state.power
	}
	system := jsonObject{
		"@odata.id":    l.odataID(path),
		"@odata.type":  "#ComputerSystem.v1_13_0.ComputerSystem",
		"Id":           state.systemID,
		"Name":         state.name,
		"SystemType":   "Physical",
		"PowerState":   power,
		"BootProgress": jsonObject{"LastState": state.boot, "LastStateTime": state.bootTime},
		"Status":       jsonObject{"State": "Enabled", "Health": "OK"},
		"Boot":         bootObject(l.profile, state),
		"Links":        jsonObject{"ManagedBy": []jsonObject{linkTo(l.profile, l.managerPath())}},
		"Actions":      jsonObject{"#ComputerSystem.Reset": resetAction},
	}
	if l.media == mediaSystem {
		system["VirtualMedia"] = linkTo(l.profile, l.mediaCollectionPath(state.systemID))
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
	if !n.layout.bootOverride || n.faults.has(FaultOverrideUnsupported) {
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
	if patch.Boot.HTTPBootURI != nil && !n.layout.httpBoot() {
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
// what a driver asked for (an override-persistent node stores Continuous
// where Once was asked for; boot_source shows what it stored).
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
	ok = slices.Contains(bootEnabledValues, newEnabled) && slices.Contains(n.layout.bootTargets, newTarget)
	status := http.StatusBadRequest
	if ok {
		if newEnabled == "Once" && n.faults.has(FaultOverridePersistent) {
			newEnabled = "Continuous"
		}
		n.bootEnabled, n.bootTarget, n.httpBootURI = newEnabled, newTarget, newURI
		status = http.StatusNoContent
	}
	n.recordLocked("PatchBoot", detail, status)
	return detail, ok
}

func (n *node) getResetActionInfo(w http.ResponseWriter, _ *http.Request) {
	p := n.layout
	writeJSON(w, http.StatusOK, jsonObject{
		"@odata.id":   p.odataID(systemPath(n.id()) + "/ResetActionInfo"),
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
	case resetAnswerLost:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	case resetHeld:
		<-r.Context().Done() // the client gave up, or the fleet closed
	default:
		n.answerReset(w)
	}
}

func (n *node) answerReset(w http.ResponseWriter) {
	status := n.layout.resetStatus
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

func (n *node) getVirtualMedia(w http.ResponseWriter, slot int) {
	p := n.layout
	n.mu.Lock()
	media := n.media[slot]
	n.mu.Unlock()
	var image any = media.image
	if !media.inserted {
		image = p.emptyImage
	}
	path := p.mediaPath(n.id(), slot)
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
	n.record("EjectMedia", n.layout.virtualMedia[slot], http.StatusNoContent)
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

func writeNotFound(w http.ResponseWriter, path string) {
	writeError(w, http.StatusNotFound, "ResourceMissingAtURI", fmt.Sprintf("The resource at the URI %s was not found.", path))
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
