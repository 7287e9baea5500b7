package sim

import (
	"net/http"
	"slices"
	"strings"
)

const mixedProfile = "mixed"

// profile is one vendor's Redfish shape, copied from the mockups in
// shared/testdata/redfish-mockups.
type profile struct {
	name string
	// systemID is the id of a BMC's only system; a BMC with several
	// numbers them: numberedIDPrefix and the slot counted from
	// firstNumberedID (Cray EX node cards: Node0, Node1).
	systemID         string
	numberedIDPrefix string
	firstNumberedID  int
	managerID        string
	// trailingSlash renders every @odata.id and action target with a
	// trailing "/" (HPE iLO).
	trailingSlash bool
	resetTypes    []string
	// resetViaActionInfo publishes resetTypes only in a separate ActionInfo
	// resource instead of ResetType@Redfish.AllowableValues.
	resetViaActionInfo bool
	resetStatus        int
	// bootOverride offers BootSourceOverride*; without it PATCH gets 405.
	bootOverride bool
	bootTargets  []string
	// mediaHome is the resource holding the VirtualMedia collection, and
	// virtualMedia the ids in it (Intel's collection is empty).
	mediaHome    mediaHome
	virtualMedia []string
	// emptyImage is what Image reads when nothing is inserted: nil (JSON
	// null), "" or "None".
	emptyImage any
	startsOff  bool
	// login is how the BMC answers a session login.
	login loginShape
}

// mediaHome says where a BMC keeps its VirtualMedia collection.
type mediaHome int

const (
	noMedia      mediaHome = iota
	mediaManager           // Managers/<id>/VirtualMedia, the common place
	mediaSystem            // Systems/<id>/VirtualMedia, as Redfish 2021.1 and iDRAC 6+ do
)

// loginShape is how a BMC answers a successful session login: always 201
// with X-Auth-Token, but not always with both the Location header and the
// Session body that name the session a client must delete to log out.
type loginShape int

const (
	loginFull       loginShape = iota // Location header and Session body
	loginNoBody                       // Location header, empty body
	loginNoLocation                   // Session body with @odata.id, no Location header
)

var profiles = map[string]*profile{
	"dmtf": {
		name: "dmtf", systemID: "437XR1138R2", numberedIDPrefix: "System", firstNumberedID: 1, managerID: "BMC",
		resetTypes:   []string{"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn", "PushPowerButton"},
		resetStatus:  http.StatusNoContent,
		bootOverride: true,
		bootTargets:  []string{"None", "Pxe", "Cd", "Usb", "Hdd", "BiosSetup", "Utilities", "Diags", "SDCard", "UefiTarget"},
		mediaHome:    mediaManager,
		virtualMedia: []string{"CD1", "Floppy1"},
	},
	"ilo": {
		name: "ilo", systemID: "1", firstNumberedID: 1, managerID: "1", trailingSlash: true,
		resetTypes:   []string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "Nmi", "PushPowerButton", "GracefulRestart"},
		resetStatus:  http.StatusOK,
		bootOverride: true,
		bootTargets:  []string{"None", "Cd", "Hdd", "Usb", "SDCard", "Utilities", "Diags", "BiosSetup", "Pxe", "UefiShell", "UefiHttp", "UefiTarget"},
		mediaHome:    mediaManager,
		virtualMedia: []string{"1", "2"},
		emptyImage:   "",
	},
	// Cray EX offers exactly On, Off and ForceOff. Its non-standard "Off"
	// is the graceful one (the OS shuts down over the graceful-shutdown
	// time; Cray's power service sends it after trying GracefulShutdown),
	// ForceOff cuts power at once. The Boot object has only a boot order:
	// no override, and its reset types are only in the ActionInfo.
	"cray-ex": {
		name: "cray-ex", systemID: "Node0", numberedIDPrefix: "Node", firstNumberedID: 0, managerID: "BMC",
		resetTypes:         []string{"ForceOff", "On", "Off"},
		resetViaActionInfo: true,
		resetStatus:        http.StatusAccepted,
		login:              loginNoLocation,
	},
	"gigabyte": {
		name: "gigabyte", systemID: "Self", numberedIDPrefix: "System", firstNumberedID: 1, managerID: "Self",
		resetTypes:         []string{"GracefulShutdown", "ForceRestart", "ForceOff", "On"},
		resetViaActionInfo: true,
		resetStatus:        http.StatusNoContent,
		bootOverride:       true,
		bootTargets:        []string{"None", "Pxe", "Floppy", "Cd", "Usb", "Hdd", "BiosSetup", "Utilities", "UefiShell", "UefiTarget", "SDCard", "UefiHttp", "RemoteDrive", "UefiBootNext"},
		mediaHome:          mediaManager,
		virtualMedia:       []string{"CD1"},
		emptyImage:         "None",
	},
	"openbmc": {
		name: "openbmc", systemID: "system", numberedIDPrefix: "system", firstNumberedID: 1, managerID: "bmc",
		resetTypes:         []string{"On", "ForceOff", "ForceOn", "ForceRestart", "GracefulRestart", "GracefulShutdown", "PowerCycle", "Nmi"},
		resetViaActionInfo: true,
		resetStatus:        http.StatusNoContent,
		bootOverride:       true,
		bootTargets:        []string{"None", "Pxe", "Hdd", "Cd", "Diags", "BiosSetup", "Usb"},
		// The captured bmcweb has no VirtualMedia; the simulator puts one
		// under the system so drivers meet that layout too.
		mediaHome:    mediaSystem,
		virtualMedia: []string{"1"},
		startsOff:    true,
	},
	"intel": {
		name: "intel", systemID: "QSBP74100021", numberedIDPrefix: "System", firstNumberedID: 1, managerID: "BMC",
		resetTypes:   []string{"PushPowerButton", "On", "GracefulShutdown", "ForceRestart", "Nmi", "ForceOn", "ForceOff"},
		resetStatus:  http.StatusNoContent,
		bootOverride: true,
		bootTargets:  []string{"None", "Pxe", "Hdd", "Cd", "BiosSetup", "UefiShell", "Usb"},
		// The manager links a VirtualMedia collection with no members.
		mediaHome: mediaManager,
		login:     loginNoBody,
	},
}

// mixedOrder is the round-robin order of the "mixed" profile.
var mixedOrder = []string{"dmtf", "ilo", "cray-ex", "gigabyte", "openbmc", "intel"}

func profileFor(name string, index int) *profile {
	if name == mixedProfile {
		return profiles[mixedOrder[index%len(mixedOrder)]]
	}
	return profiles[name]
}

func profileNames() string {
	return strings.Join(append(slices.Clone(mixedOrder), mixedProfile), ", ")
}

// odataID renders a resource path the way this vendor does.
func (p *profile) odataID(path string) string {
	if p.trailingSlash {
		return path + "/"
	}
	return path
}

func (p *profile) managerPath() string { return "/redfish/v1/Managers/" + p.managerID }

func (p *profile) offersReset(resetType string) bool { return slices.Contains(p.resetTypes, resetType) }

// httpBoot says whether the BMC offers UEFI HTTP boot, and so HttpBootUri.
func (p *profile) httpBoot() bool { return slices.Contains(p.bootTargets, "UefiHttp") }
