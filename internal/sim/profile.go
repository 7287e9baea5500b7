package sim

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

const mixedProfile = "mixed"

// profile is one vendor's Redfish shape, copied from the mockups in
// shared/testdata/redfish-mockups.
type profile struct {
	name      string
	systemID  string
	managerID string
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
	// virtualMedia lists the VirtualMedia ids under the manager; none means
	// the BMC has no VirtualMedia collection.
	virtualMedia []string
	// emptyImage is what Image reads when nothing is inserted: nil (JSON
	// null), "" or "None".
	emptyImage any
	startsOff  bool

	routesOnce sync.Once
	routeTable map[string]map[string]handler
}

var profiles = map[string]*profile{
	"dmtf": {
		name: "dmtf", systemID: "437XR1138R2", managerID: "BMC",
		resetTypes:   []string{"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn", "PushPowerButton"},
		resetStatus:  http.StatusNoContent,
		bootOverride: true,
		bootTargets:  []string{"None", "Pxe", "Cd", "Usb", "Hdd", "BiosSetup", "Utilities", "Diags", "SDCard", "UefiTarget"},
		virtualMedia: []string{"CD1", "Floppy1"},
	},
	"ilo": {
		name: "ilo", systemID: "1", managerID: "1", trailingSlash: true,
		resetTypes:   []string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "Nmi", "PushPowerButton", "GracefulRestart"},
		resetStatus:  http.StatusOK,
		bootOverride: true,
		bootTargets:  []string{"None", "Cd", "Hdd", "Usb", "SDCard", "Utilities", "Diags", "BiosSetup", "Pxe", "UefiShell", "UefiHttp", "UefiTarget"},
		virtualMedia: []string{"1", "2"},
		emptyImage:   "",
	},
	"cray-ex": {
		name: "cray-ex", systemID: "Node0", managerID: "BMC",
		resetTypes:         []string{"ForceOff", "On", "Off"},
		resetViaActionInfo: true,
		resetStatus:        http.StatusAccepted,
	},
	"gigabyte": {
		name: "gigabyte", systemID: "Self", managerID: "Self",
		resetTypes:         []string{"GracefulShutdown", "ForceRestart", "ForceOff", "On"},
		resetViaActionInfo: true,
		resetStatus:        http.StatusNoContent,
		bootOverride:       true,
		bootTargets:        []string{"None", "Pxe", "Floppy", "Cd", "Usb", "Hdd", "BiosSetup", "Utilities", "UefiShell", "UefiTarget", "SDCard", "UefiHttp", "RemoteDrive", "UefiBootNext"},
		virtualMedia:       []string{"CD1"},
		emptyImage:         "None",
	},
	"openbmc": {
		name: "openbmc", systemID: "system", managerID: "bmc",
		resetTypes:         []string{"On", "ForceOff", "ForceOn", "ForceRestart", "GracefulRestart", "GracefulShutdown", "PowerCycle", "Nmi"},
		resetViaActionInfo: true,
		resetStatus:        http.StatusNoContent,
		bootOverride:       true,
		bootTargets:        []string{"None", "Pxe", "Hdd", "Cd", "Diags", "BiosSetup", "Usb"},
		startsOff:          true,
	},
}

// mixedOrder is the round-robin order of the "mixed" profile.
var mixedOrder = []string{"dmtf", "ilo", "cray-ex", "gigabyte", "openbmc"}

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

func (p *profile) systemPath() string  { return "/redfish/v1/Systems/" + p.systemID }
func (p *profile) managerPath() string { return "/redfish/v1/Managers/" + p.managerID }

func (p *profile) offersReset(resetType string) bool { return slices.Contains(p.resetTypes, resetType) }

func (p *profile) mediaPath(slot int) string {
	return p.managerPath() + "/VirtualMedia/" + p.virtualMedia[slot]
}
