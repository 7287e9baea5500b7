package bmc

import (
	"github.com/stmcginnis/gofish/schemas"

	"github.com/bos-project/bos/internal/power"
)

// What real BMCs do differently, in one place: the next vendor quirk goes
// here, with the vendor named and the reason given.

// crayOff is HPE Cray EX's non-standard reset type "Off" (see
// resetPreferences). Redfish itself has no "Off".
const crayOff schemas.ResetType = "Off"

// resetPreferences lists, per power action, the reset types that carry it
// out, best first. A node gets the first one its BMC allows; where the BMC
// does not say what it allows, they are tried in this order.
//
//   - graceful-off: GracefulShutdown, else Off. HPE Cray EX nodes offer
//     exactly On, Off and ForceOff, and there Off is the graceful shutdown:
//     the OS is asked to shut down, ForceOff cuts the power. Cray's own
//     power service (PCS, and CAPMC before it) tries soft-off the same way,
//     GracefulShutdown then Off.
//   - force-off: ForceOff only. Off is not a forced power-off where it is
//     the graceful one (Cray EX), and what it does elsewhere is unknown; a
//     BMC without ForceOff gets its nodes shut down gracefully, but a node
//     that ignores that fails rather than being "forced" gracefully again.
//   - on: On, else ForceOn.
//
// PushPowerButton is in no list: it toggles. Pressed on a node that is
// already off, or whose power state changed since bos read it, it powers
// the node on, the opposite of a shutdown; and a press whose answer was
// lost cannot be told apart from one the BMC never took.
var resetPreferences = map[power.Action][]schemas.ResetType{
	power.GracefulOff: {schemas.GracefulShutdownResetType, crayOff},
	power.ForceOff:    {schemas.ForceOffResetType},
	power.PowerOn:     {schemas.OnResetType, schemas.ForceOnResetType},
}
