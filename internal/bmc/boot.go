package bmc

import (
	"bytes"
	"context"
	"encoding/json"
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
	Boot *struct {
		bootCapability
		Enabled     *string `json:"BootSourceOverrideEnabled"`
		HTTPBootURI *string `json:"HttpBootUri"`
	} `json:"Boot"`
	VirtualMedia schemas.Link `json:"VirtualMedia"`
	Links        struct {
		ManagedBy schemas.Links `json:"ManagedBy"`
	} `json:"Links"`
}

// bootCapability is what a system's Boot object says it can take; it does
// not change while bos runs (see systemFacts).
type bootCapability struct {
	Target         *string  `json:"BootSourceOverrideTarget"`
	AllowedTargets []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
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
	if err := json.Unmarshal(body.Bytes(), fields); err != nil {
		return fmt.Errorf("system of bmc %s: %w", ep.url, err)
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
func whyNoOverride(boot *bootCapability, target string) string {
	switch {
	case boot == nil:
		return "the system has no Boot object"
	case boot.Target == nil:
		return "the system's Boot object has no BootSourceOverrideTarget (it boots by its boot order)"
	case boot.AllowedTargets != nil && !slices.Contains(boot.AllowedTargets, target):
		return fmt.Sprintf("target %s is not offered (BMC allows %s)", target, strings.Join(boot.AllowedTargets, ", "))
	}
	return ""
}

// readsBack describes the override the system reports.
func (s systemSettings) readsBack() string {
	deref := func(v *string) string {
		if v == nil {
			return "nothing"
		}
		return *v
	}
	if s.Boot == nil {
		return "no Boot object"
	}
	return deref(s.Boot.Target) + "/" + deref(s.Boot.Enabled)
}

// applied says whether the system reports override o as set. HttpBootUri
// is compared only where the BMC reports it.
func (s systemSettings) applied(o BootOverride) bool {
	if s.Boot == nil || s.Boot.Target == nil || s.Boot.Enabled == nil {
		return false
	}
	uriApplied := o.URI == "" || s.Boot.HTTPBootURI == nil || *s.Boot.HTTPBootURI == o.URI
	return *s.Boot.Target == o.Target && *s.Boot.Enabled == o.enabled() && uriApplied
}

// SetBootOverride sets a boot source override on the node's system and
// reads it back. An error wrapping ErrBootOverrideUnsupported means this BMC
// cannot do it (see there); any other error is a failure to talk to it.
func (p *Pool) SetBootOverride(ctx context.Context, node string, o BootOverride) error {
	wrap := func(err error) error {
		return fmt.Errorf("node %s: boot override %s/%s: %w", node, o.Target, o.enabled(), err)
	}
	ref, err := p.node(node)
	if err != nil {
		return wrap(err)
	}
	// What the system can take was learned from its first read: only the
	// read-back below needs a fresh copy.
	system, err := p.systemFacts(ctx, ref)
	if err != nil {
		return wrap(err)
	}
	if reason := whyNoOverride(system.Boot, o.Target); reason != "" {
		return wrap(fmt.Errorf("%w: %s", ErrBootOverrideUnsupported, reason))
	}
	systemPath, err := ref.endpoint.resolve(system.ODataID)
	if err != nil {
		return wrap(err)
	}
	var patch bootPatch
	patch.Boot.BootSourceOverrideEnabled, patch.Boot.BootSourceOverrideTarget, patch.Boot.HTTPBootURI = o.enabled(), o.Target, o.URI
	// Setting the same override twice is harmless, so the PATCH may be re-sent.
	err = ref.endpoint.do(ctx, true, func(c *call) error {
		resp, err := c.client().Patch(systemPath, patch)
		schemas.DeferredCleanupHTTPResponse(resp)
		return err
	})
	if err != nil {
		if refusedAsUnsupported(err) {
			return wrap(fmt.Errorf("%w: the BMC refused it: %w", ErrBootOverrideUnsupported, err))
		}
		return wrap(err)
	}
	after, err := p.readSettings(ctx, ref)
	if err != nil {
		return wrap(fmt.Errorf("read it back: %w", err))
	}
	if !after.applied(o) {
		return wrap(fmt.Errorf("%w: the BMC accepted it but ignored it (it reads back %s)", ErrBootOverrideUnsupported, after.readsBack()))
	}
	p.logf("node %s: boot override %s/%s set", node, o.Target, o.enabled())
	return nil
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
