package bmc

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/stmcginnis/gofish/schemas"
)

// Boot override targets bos sets (Redfish BootSourceOverrideTarget values).
const (
	BootTargetPxe      = "Pxe"
	BootTargetUefiHTTP = "UefiHttp"
	BootTargetCd       = "Cd"
)

// ErrBootOverrideUnsupported means the node's BMC cannot take the boot
// override asked for: its system has no Boot override (HPE Cray EX), it
// refuses the PATCH, it does not offer the target, or it accepts the PATCH
// and ignores it. Its text is the reason recorded for the node.
var ErrBootOverrideUnsupported = errors.New("boot override unsupported")

// ErrBootOverrideIgnored is the ErrBootOverrideUnsupported of a BMC that
// accepted the override and reads back something else.
var ErrBootOverrideIgnored = fmt.Errorf("%w: the BMC accepted it but ignored it", ErrBootOverrideUnsupported)

// BootOverrideUnsupportedError is the ErrBootOverrideUnsupported of a BMC
// that has no such override or refused it.
type BootOverrideUnsupportedError struct {
	// Cause says why in a few words that name neither node nor BMC
	// ("HTTP 405", "the system has no Boot object"), so that the same
	// cause on many nodes reads alike.
	Cause string
	err   error // the whole story, wrapping ErrBootOverrideUnsupported; nil: Cause alone
}

func (e *BootOverrideUnsupportedError) Error() string {
	if e.err == nil {
		return ErrBootOverrideUnsupported.Error() + ": " + e.Cause
	}
	return e.err.Error()
}

func (e *BootOverrideUnsupportedError) Unwrap() error {
	if e.err == nil {
		return ErrBootOverrideUnsupported
	}
	return e.err
}

// BootOverride is a boot source override to set on a node's system.
type BootOverride struct {
	// Target is a BootSourceOverrideTarget: BootTargetPxe,
	// BootTargetUefiHTTP or BootTargetCd (any value the BMC allows works).
	Target string
	// URI is the HttpBootUri, sent only when not empty (for UefiHttp).
	URI string
	// Once sets a one-time override ("Once"); otherwise it is "Continuous".
	Once bool
}

func (o BootOverride) enabled() string {
	if o.Once {
		return "Once"
	}
	return "Continuous"
}

// BootOverrideSetting is the boot source override a system holds.
type BootOverrideSetting struct {
	Target  string // BootSourceOverrideTarget; "" when the BMC does not say
	Enabled string // BootSourceOverrideEnabled (Disabled, Once, Continuous); "" when it does not say
	URI     string // HttpBootUri; "" when absent or null
}

// String is the setting as "target/enabled", e.g. "Pxe/Once".
func (s BootOverrideSetting) String() string {
	orNothing := func(v string) string {
		if v == "" {
			return "nothing"
		}
		return v
	}
	return orNothing(s.Target) + "/" + orNothing(s.Enabled)
}

// maxValueLen bounds an enumeration value a BMC reports (a boot target, a
// BootProgress state): real ones are a few dozen characters.
const maxValueLen = 64

// shownValue is an enumeration value a BMC reported, fit to be shown in a
// reason or warning: bounded, and with anything unprintable (terminal
// escapes included) replaced. Real values are plain words and pass as
// they are.
func shownValue(v string) string { return shownText(v, maxValueLen) }

// active says whether the setting overrides the boot order at all: a
// disabled override boots alike whatever target it names.
func (s BootOverrideSetting) active() bool { return s.Enabled == "Once" || s.Enabled == "Continuous" }

// bootsLike says whether s and other boot the node alike. HttpBootUri is
// compared only where both report one.
func (s BootOverrideSetting) bootsLike(other BootOverrideSetting) bool {
	if !s.active() || !other.active() {
		return s.active() == other.active()
	}
	return s.Target == other.Target && s.Enabled == other.Enabled && (s.URI == "" || other.URI == "" || s.URI == other.URI)
}

// holds says whether s is override o, or o made persistent. HttpBootUri
// is compared only where the BMC reports it.
func (s BootOverrideSetting) holds(o BootOverride) bool {
	uriHeld := o.URI == "" || s.URI == "" || s.URI == o.URI
	return s.active() && s.Target == o.Target && uriHeld
}

// BootOverrideChange is what setting a boot override found on the BMC:
// what RestoreBootOverride needs to put the BMC back as it was.
type BootOverrideChange struct {
	Asked  BootOverride
	Before BootOverrideSetting // held before the PATCH (at the system's first read)
	After  BootOverrideSetting // read back after it
}

// Persistent says that a one-time override was stored as Continuous: it
// would outlive the boot it was meant for.
func (c BootOverrideChange) Persistent() bool {
	return c.Asked.Once && c.After.Enabled == "Continuous"
}

// bootPatch is the PATCH body; HttpBootUri is left out unless set because
// BMCs without UEFI HTTP boot reject the unknown property.
type bootPatch struct {
	Boot struct {
		BootSourceOverrideEnabled string `json:"BootSourceOverrideEnabled"`
		BootSourceOverrideTarget  string `json:"BootSourceOverrideTarget"`
		HTTPBootURI               string `json:"HttpBootUri,omitempty"`
	} `json:"Boot"`
}

// systemSettings is the part of a ComputerSystem the boot capabilities
// read. Pointers tell an absent property from an empty one.
type systemSettings struct {
	Boot         *bootObject  `json:"Boot"`
	VirtualMedia schemas.Link `json:"VirtualMedia"`
	Links        struct {
		ManagedBy schemas.Links `json:"ManagedBy"`
	} `json:"Links"`
}

// bootObject is a system's Boot object: the override it holds and the
// targets it can take.
type bootObject struct {
	Target         *string  `json:"BootSourceOverrideTarget"`
	AllowedTargets []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
	Enabled        *string  `json:"BootSourceOverrideEnabled"`
	HTTPBootURI    *string  `json:"HttpBootUri"`
}

// readSystem reads the node's system for its boot-related properties.
func (ep *endpoint) readSystem(c *call, sys *systemRef) (systemSettings, error) {
	var settings systemSettings
	err := ep.decodeSystem(c, sys, &settings)
	return settings, err
}

// decodeSystem reads the node's system into fields, a struct holding only
// the properties the caller needs: a poll then allocates a string or two,
// not the whole resource.
func (ep *endpoint) decodeSystem(c *call, sys *systemRef, fields any) error {
	body := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		body.Reset()
		bodyBuffers.Put(body)
	}()
	if err := ep.readSystemJSON(c, sys, body); err != nil {
		return err
	}
	if err := decodeMembers(body.Bytes(), fields); err != nil {
		return fmt.Errorf("decode system: %w", err)
	}
	sys.learnFacts(body.Bytes())
	return nil
}

// bodyBuffers recycles the buffers polls read systems into: a fresh one
// per poll grew through several allocations to a few kilobytes.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (p *Pool) readSettings(ctx context.Context, ref *nodeRef) (systemSettings, error) {
	var settings systemSettings
	err := p.readFields(ctx, ref, &settings)
	return settings, err
}

// readFields decodes the node's system into fields (see decodeSystem).
func (p *Pool) readFields(ctx context.Context, ref *nodeRef, fields any) error {
	return ref.endpoint.do(ctx, true, func(c *call) error {
		return ref.endpoint.decodeSystem(c, ref.system, fields)
	})
}

// whyNoOverride says why a system with Boot object boot (nil when it has
// none) cannot take target, or "" if it seems able to. A BMC that does not
// list its allowed targets is tried.
func whyNoOverride(boot *bootObject, target string) string {
	switch {
	case boot == nil:
		return "the system has no Boot object"
	case boot.Target == nil:
		return "the system's Boot object has no BootSourceOverrideTarget"
	case boot.AllowedTargets != nil && !slices.Contains(boot.AllowedTargets, target):
		return fmt.Sprintf("target %s is not offered (BMC allows %s)", target, strings.Join(boot.AllowedTargets, ", "))
	}
	return ""
}

// override is the boot source override the Boot object b (nil: none)
// holds.
func (b *bootObject) override() BootOverrideSetting {
	deref := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	if b == nil {
		return BootOverrideSetting{}
	}
	return BootOverrideSetting{Target: shownValue(deref(b.Target)), Enabled: shownValue(deref(b.Enabled)), URI: deref(b.HTTPBootURI)}
}

// SetBootOverride sets a boot source override on the node's system and
// reads it back. A one-time override
// the BMC stores as Continuous is set (see BootOverrideChange.Persistent).
// An error wrapping ErrBootOverrideUnsupported means this BMC cannot do
// it: a *BootOverrideUnsupportedError, or ErrBootOverrideIgnored with the
// change it read; any other error is a failure to talk to it.
func (p *Pool) SetBootOverride(ctx context.Context, node string, o BootOverride) (BootOverrideChange, error) {
	change := BootOverrideChange{Asked: o}
	wrap := func(err error) error {
		return p.nodeError(node, "boot override "+o.Target+"/"+o.enabled(), err)
	}
	unsupported := func(cause string, err error) error {
		return &BootOverrideUnsupportedError{Cause: cause, err: wrap(err)}
	}
	ref, err := p.node(node)
	if err != nil {
		return change, wrap(err)
	}
	// What the system can take, and what it held before, were learned from
	// its first read: only the read-back below needs a fresh copy.
	system, err := p.systemFacts(ctx, ref)
	if err != nil {
		return change, wrap(err)
	}
	if reason := whyNoOverride(system.Boot, o.Target); reason != "" {
		return change, unsupported(reason, fmt.Errorf("%w: %s", ErrBootOverrideUnsupported, reason))
	}
	systemPath, err := ref.endpoint.resolve(system.ODataID)
	if err != nil {
		return change, wrap(err)
	}
	change.Before = system.Boot.override()
	var patch bootPatch
	patch.Boot.BootSourceOverrideEnabled, patch.Boot.BootSourceOverrideTarget, patch.Boot.HTTPBootURI = o.enabled(), o.Target, o.URI
	if err := p.patchBoot(ctx, ref, systemPath, patch); err != nil {
		var httpErr *HTTPError
		if errors.As(err, &httpErr) && refusedAsUnsupported(err) {
			return change, unsupported(fmt.Sprintf("HTTP %d", httpErr.Status), fmt.Errorf("%w: the BMC refused it: %w", ErrBootOverrideUnsupported, err))
		}
		return change, wrap(err)
	}
	after, err := p.readSettings(ctx, ref)
	if err != nil {
		return change, wrap(fmt.Errorf("read it back: %w", err))
	}
	change.After = after.Boot.override()
	if !change.After.holds(o) {
		return change, wrap(fmt.Errorf("%w (it reads back %s)", ErrBootOverrideIgnored, change.After))
	}
	if change.Persistent() {
		p.logf("node %s: boot override %s/%s stored as %s (was %s)", node, o.Target, o.enabled(), change.After, change.Before)
		return change, nil
	}
	p.logf("node %s: boot override %s/%s set (was %s)", node, o.Target, o.enabled(), change.Before)
	return change, nil
}

// patchBoot sends a Boot PATCH to the system at systemPath. Setting the
// same override twice is harmless, so the PATCH may be re-sent.
func (p *Pool) patchBoot(ctx context.Context, ref *nodeRef, systemPath string, patch bootPatch) error {
	ref.system.changing()
	return ref.endpoint.do(ctx, true, func(c *call) error {
		resp, err := c.client().Patch(systemPath, patch)
		schemas.DeferredCleanupHTTPResponse(resp)
		return err
	})
}

// RestoreBootOverride puts back, after the boot, the override the node's
// system held before SetBootOverride made change, if what it holds now is
// still that override (persistent, or one-time and not used) and boots
// otherwise. It returns what the system held before it acted, and whether
// it restored anything; an override the boot used, or one someone else
// set since, is left alone. The BMC must read back the restored override.
func (p *Pool) RestoreBootOverride(ctx context.Context, node string, change BootOverrideChange) (BootOverrideSetting, bool, error) {
	wrap := func(err error) error {
		return p.nodeError(node, "restore boot override "+change.Before.String(), err)
	}
	ref, err := p.node(node)
	if err != nil {
		return BootOverrideSetting{}, false, wrap(err)
	}
	boot, fresh := ref.system.latestBoot()
	if !fresh {
		settings, err := p.readSettings(ctx, ref)
		if err != nil {
			return BootOverrideSetting{}, false, wrap(err)
		}
		boot = settings.Boot
	}
	now := boot.override()
	if !now.holds(change.Asked) || now.bootsLike(change.Before) {
		return now, false, nil
	}
	system, err := p.systemFacts(ctx, ref)
	if err != nil {
		return now, false, wrap(err)
	}
	systemPath, err := ref.endpoint.resolve(system.ODataID)
	if err != nil {
		return now, false, wrap(err)
	}
	// A BMC that did not say what it held had no override in force.
	var patch bootPatch
	patch.Boot.BootSourceOverrideEnabled = cmp.Or(change.Before.Enabled, "Disabled")
	patch.Boot.BootSourceOverrideTarget = cmp.Or(change.Before.Target, "None")
	if change.Before.URI != now.URI {
		patch.Boot.HTTPBootURI = change.Before.URI // omitted when there was none
	}
	if err := p.patchBoot(ctx, ref, systemPath, patch); err != nil {
		return now, false, wrap(err)
	}
	after, err := p.readSettings(ctx, ref)
	if err != nil {
		return now, false, wrap(fmt.Errorf("read it back: %w", err))
	}
	if restored := after.Boot.override(); !restored.bootsLike(change.Before) {
		return now, false, wrap(fmt.Errorf("the BMC reads back %s", restored))
	}
	p.logf("node %s: boot override %s restored to %s", node, now, change.Before)
	return now, true, nil
}

// refusedAsUnsupported tells a BMC that cannot do what was asked (method
// or action not there, property or value not accepted) from one that
// failed to do it this time.
func refusedAsUnsupported(err error) bool {
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) {
		return false
	}
	switch httpErr.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	case http.StatusBadRequest:
		for _, id := range []string{"NotInList", "NotSupported", "PropertyUnknown", "PropertyNotWritable", "ReadOnly"} {
			if strings.Contains(httpErr.MessageID, id) {
				return true
			}
		}
	}
	return false
}
