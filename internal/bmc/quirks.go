package bmc

import (
	"github.com/stmcginnis/gofish/schemas"

	"github.com/bos-project/bos/internal/power"
)

// What real BMCs do differently, in one place. Quirks lists every vendor
// quirk bos handles, and where: the next one goes there, with the vendors
// named, what bos does about it and the function that does it. The
// "Vendor quirks" table of docs/guide.md is generated from it (go test
// ./internal/bmc -run TestVendorQuirksInGuide -update-guide), and a test
// fails when the table, a function named or a simulator fault or profile
// named goes stale. Handling that belongs elsewhere stays there; its entry
// points at it.

// Quirk is one way real BMCs depart from the Redfish specification, or
// read it their own way, that bos handles.
type Quirk struct {
	ID       string   // stable and short: the docs table names it
	What     string   // what the BMC does
	Vendors  string   // who does it, as far as bos knows
	Handling string   // what bos does about it
	Where    []string // the code that does it: "pkg.Func" or "pkg.Type.Method"
	// SimProfile and SimFault are what shows it in bos sim ("": nothing).
	SimProfile string
	SimFault   string
}

// Quirks is every vendor quirk bos handles, by topic: resets, power
// state, boot override, virtual media, logins, boot progress.
var Quirks = []Quirk{
	{
		ID: "reset-types-in-actioninfo", What: "allowed reset types only in a separate `@Redfish.ActionInfo` resource, not in `ResetType@Redfish.AllowableValues`",
		Vendors:  "HPE Cray EX, Gigabyte (AMI MegaRAC), OpenBMC",
		Handling: "reads the ActionInfo once per system; where neither lists the types, tries them in preference order",
		Where:    []string{"bmc.endpoint.allowedResetTypes", "bmc.Pool.resetInfo"}, SimProfile: "cray-ex",
	},
	{
		ID: "off-is-graceful", What: "only `On`, `Off` and `ForceOff`; the non-standard `Off` is the graceful shutdown",
		Vendors:  "HPE Cray EX",
		Handling: "graceful-off sends `GracefulShutdown`, else `Off`, as Cray's power service does; force-off sends only `ForceOff`; the type sent is logged and recorded",
		Where:    []string{"bmc.resetPreferences"}, SimProfile: "cray-ex",
	},
	{
		ID: "power-button-toggles", What: "`PushPowerButton` among the reset types",
		Vendors:  "Intel, DMTF reference, HPE iLO",
		Handling: "never sent: it toggles, so on a node already off (or whose answer was lost) it powers on",
		Where:    []string{"bmc.resetPreferences"}, SimProfile: "intel",
	},
	{
		ID: "unsupported-reset-400-or-501", What: "a reset type the system does not take is refused with 400 (`ActionParameterNotSupported`, `PropertyValueNotInList`) or 501",
		Vendors:  "varies by firmware",
		Handling: "either moves on to the next type in preference order; a refusal naming the type is remembered for the system",
		Where:    []string{"bmc.unsupportedAnswer", "bmc.definitelyUnsupported", "bmc.Pool.Reset"}, SimProfile: "dmtf",
	},
	{
		ID: "reset-answer-status", What: "a reset answered 200, 202 (with a task monitor) or 204",
		Vendors:  "HPE iLO 200, HPE Cray EX 202, most 204",
		Handling: "all are acceptance; the task is not waited on: the power state tells what came of it",
		Where:    []string{"bmc.Pool.Reset"}, SimProfile: "cray-ex",
	},
	{
		ID: "conflict-after-off", What: "`On` refused with 409 for up to ~60 s after the node reached Off",
		Vendors:  "Dell iDRAC",
		Handling: "409 is retried with back-off (`request_retries`), then the power-on step again (`retry_policy`), checking first whether the last On landed",
		Where:    []string{"bmc.retryable", "engine.nodePhase.powerOn"}, SimFault: "conflict-after-off",
	},
	{
		ID: "busy-ignores-reset", What: "a reset sent while the node is `PoweringOn` or `PoweringOff` is accepted and ignored",
		Vendors:  "HPE Cray EX",
		Handling: "a node read busy is waited to settle before its next reset; a graceful shutdown accepted with no effect is escalated, saying so",
		Where:    []string{"engine.nodePhase.settleFirst", "engine.nodePhase.act"}, SimFault: "busy-ignores-reset",
	},
	{
		ID: "transient-power-state", What: "`PowerState` null, `Unknown` or `PoweringOn`/`PoweringOff` mid-transition",
		Vendors:  "HPE iLO",
		Handling: "read as not yet settled, never as an error: polling goes on",
		Where:    []string{"bmc.powerState"}, SimFault: "transient-unknown",
	},
	{
		ID: "trailing-slash", What: "`@odata.id` and action targets ending in `/`",
		Vendors:  "HPE iLO",
		Handling: "paths are compared and joined without it; an inventory `system` is matched against the Systems collection either way, or as a bare id",
		Where:    []string{"bmc.normalizePath", "bmc.endpoint.atSystem"}, SimProfile: "ilo",
	},
	{
		ID: "systems-per-bmc", What: "several systems behind one endpoint (`Systems/Node0`, `Node1`)",
		Vendors:  "HPE Cray EX node cards, multi-node chassis",
		Handling: "one connection, session and request bound per BMC, shared by its nodes; the inventory names each node's `system`",
		Where:    []string{"bmc.NewPool", "bmc.endpoint.systemPath"}, SimProfile: "cray-ex",
	},
	{
		ID: "no-boot-object", What: "no `Boot` object, or one without `BootSourceOverrideTarget`: no boot override at all (the boot order is network first)",
		Vendors:  "HPE Cray EX",
		Handling: "`pxe` goes on by the boot order with a warning; `http` and `virtualmedia` fail the node before any reset",
		Where:    []string{"bmc.whyNoOverride", "bootimage.Preparer.PrepareBoot"}, SimProfile: "cray-ex",
	},
	{
		ID: "boot-patch-refused", What: "PATCH of `Boot` refused (405, or 400 `PropertyValueNotInList`, `PropertyNotWritable`) though the Boot object reads as settable",
		Vendors:  "firmware with a read-only Boot object (not among the captures)",
		Handling: "as no-boot-object, with the HTTP status in the warning or reason",
		Where:    []string{"bmc.refusedAsUnsupported", "bmc.Pool.SetBootOverride"}, SimFault: "override-unsupported",
	},
	{
		ID: "override-stored-continuous", What: "a one-time (`Once`) override stored as `Continuous`",
		Vendors:  "some firmware (not among the captures)",
		Handling: "read back after the PATCH: the node gets a warning, and the BMC's previous override is restored after the boot",
		Where:    []string{"bmc.Pool.SetBootOverride", "bmc.Pool.RestoreBootOverride", "bootimage.Preparer.restoreOverride"}, SimFault: "override-persistent",
	},
	{
		ID: "override-ignored", What: "the override PATCH accepted, and the override reads back unchanged",
		Vendors:  "some firmware (not among the captures)",
		Handling: "read back after the PATCH: `pxe` goes on by the boot order with a warning; `http` fails the node before any reset",
		Where:    []string{"bmc.Pool.SetBootOverride", "bootimage.Preparer.PrepareBoot"},
	},
	{
		ID: "virtual-media-location", What: "the VirtualMedia collection under `Systems/<id>` (newer Redfish) or under `Managers/<id>`, or none",
		Vendors:  "under Managers: DMTF reference, HPE iLO, Gigabyte; an empty collection: Intel; none: HPE Cray EX",
		Handling: "looks under the system, then under the managers that manage it; none fails `virtualmedia` nodes before any reset",
		Where:    []string{"bmc.Pool.findCDSlot", "bmc.endpoint.mediaCollections"}, SimProfile: "openbmc",
	},
	{
		ID: "empty-media-image", What: "an empty virtual CD reads `Image` `\"\"`, null or the string `\"None\"`",
		Vendors:  "`\"\"` HPE iLO, `\"None\"` Gigabyte, null DMTF reference",
		Handling: "all read as empty; bos ejects only the image it inserted",
		Where:    []string{"bmc.mediaSlot.holdsMedia", "bmc.mediaSlot.holdsImage"}, SimProfile: "gigabyte",
	},
	{
		ID: "login-without-location-or-body", What: "session login answered 201 without a `Location` header, or without a body",
		Vendors:  "no Location: HPE Cray EX; no body: Intel",
		Handling: "the session's URI is taken from either; a login naming neither is not logged out, and -v says so",
		Where:    []string{"bmc.endpoint.createSession", "bmc.endpoint.logout"}, SimProfile: "intel",
	},
	{
		ID: "no-session-service", What: "no SessionService in the service root: Basic auth only",
		Vendors:  "older and stripped-down BMCs",
		Handling: "`auth: auto` (the default) uses Basic; `auth: session` fails the nodes with \"the BMC advertises no SessionService\"",
		Where:    []string{"bmc.endpoint.chooseAuth", "bmc.endpoint.openSession"}, SimFault: "no-session-service",
	},
	{
		ID: "session-limit", What: "a few concurrent Redfish sessions per BMC, then 503 `SessionLimitExceeded`",
		Vendors:  "Dell iDRAC (~8), HPE iLO",
		Handling: "one session per BMC, shared by its nodes, logged out at the end, on cancel and on error, each logout with its own time budget",
		Where:    []string{"bmc.Pool.Close", "bmc.endpoint.logout"}, SimFault: "session-limit",
	},
	{
		ID: "account-lockout", What: "the account is locked after a few failed logins",
		Vendors:  "all",
		Handling: "at most one failed login per BMC per command, its answer given to every node behind it; a 401 names its likely cause",
		Where:    []string{"bmc.endpoint.refuseLogin", "bmc.endpoint.sessionRefused"}, SimFault: "wrong-credentials",
	},
	{
		ID: "boot-progress-none", What: "`BootProgress.LastState` stays `None` while the node boots (the host posts no progress codes)",
		Vendors:  "OpenBMC",
		Handling: "after `boot_progress_grace` the node succeeds with the warning \"boot not confirmed: BMC reports no boot progress\" (fails with `--require-boot-progress`)",
		Where:    []string{"engine.nodePhase.waitBooted"}, SimFault: "boot-progress-none",
	},
	{
		ID: "boot-progress-stale", What: "`BootProgress` `OSRunning` from before the power-on, never updated",
		Vendors:  "BMCs that keep the last boot's state",
		Handling: "compared with the reading before the On (`LastStateTime`, else `LastState`): not booted until it moves; treated as boot-progress-none after the grace",
		Where:    []string{"engine.nodePhase.readBootProgress", "engine.nodePhase.waitBooted"}, SimFault: "boot-progress-stale",
	},
}

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
