package bmc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/stmcginnis/gofish/schemas"
)

// systemRef is one ComputerSystem on a BMC, shared by the nodes that name
// it. What it learns (its path, its reset action) is cached: it does not
// change while bos runs.
type systemRef struct {
	// configured is the inventory's system, without a trailing slash;
	// empty means "the BMC's only system".
	configured string
	// loadGate makes concurrent first resets share one look-up.
	loadGate gate
	// changed receives when the BMC's event stream reported a change of
	// the system (see Pool.Watch).
	changed chan struct{}

	mu       sync.Mutex // guards the fields below
	path     string     // the path requests go to; empty until known
	verified bool       // path was read from the BMC's Systems collection
	reset    *resetInfo
	facts    *systemFacts               // from the first read of the system; nil until then
	rejected map[schemas.ResetType]bool // types the BMC refused as unsupported
	// changes counts the resets and PATCHes sent to the system; boot is
	// its Boot object as read after the last of them, when bootChanges
	// is changes+1 (0: never read).
	changes     uint64
	boot        *bootObject
	bootChanges uint64
}

// changing notes that a reset or PATCH is about to be sent: what was read
// of the system before no longer holds.
func (s *systemRef) changing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes++
}

// latestBoot is the system's Boot object from a read sent after the last
// reset or PATCH, if there was one: once a node has booted, its last poll
// tells what became of its boot override without another read.
func (s *systemRef) latestBoot() (*bootObject, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boot, s.bootChanges == s.changes+1
}

// resetInfo is where a system's Reset action is and what it allows; nil
// allowed means the BMC does not say.
type resetInfo struct {
	target  string
	allowed []schemas.ResetType
}

// normalizePath drops trailing slashes (iLO's ids end in one) from a
// system's path: the inventory's or a resolved link.
func normalizePath(system string) string {
	return strings.TrimRight(system, "/")
}

func (s *systemRef) knownPath() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path, s.verified
}

func (s *systemRef) setPath(p string, verified bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.path, s.verified = p, verified
}

// readSystemJSON reads the system's JSON as the BMC sent it into body.
// Polls need a few properties only: decoding them alone instead of
// gofish's whole ComputerSystem (twice over, through its UnmarshalJSON)
// cut a poll's CPU by about a third and its allocations by half.
func (ep *endpoint) readSystemJSON(c *call, sys *systemRef, body *bytes.Buffer) error {
	return ep.atSystem(c, sys, func(systemPath string) error {
		body.Reset()
		resp, err := c.get(systemPath)
		defer schemas.DeferredCleanupHTTPResponse(resp)
		if err != nil {
			return err
		}
		if _, err := body.ReadFrom(io.LimitReader(resp.Body, maxSystemBody)); err != nil {
			return fmt.Errorf("read system %s: %w", systemPath, err)
		}
		return nil
	})
}

// maxSystemBody bounds how much of a ComputerSystem is read; real ones are
// a few kilobytes.
const maxSystemBody = 1 << 20

// atSystem runs read on the system's path. An inventory path the BMC does
// not know is matched against the Systems collection once, ignoring
// trailing slashes (iLO's ids end in one) and accepting a bare id.
func (ep *endpoint) atSystem(c *call, sys *systemRef, read func(systemPath string) error) error {
	systemPath, verified, err := ep.systemPath(c, sys)
	if err != nil {
		return err
	}
	err = read(systemPath)
	if err == nil || verified || httpStatus(ep.explain(err)) != http.StatusNotFound {
		return err
	}
	if systemPath, err = ep.matchSystem(c, sys); err != nil {
		return err
	}
	return read(systemPath)
}

func (ep *endpoint) systemPath(c *call, sys *systemRef) (string, bool, error) {
	if known, verified := sys.knownPath(); known != "" {
		return known, verified, nil
	}
	if sys.configured == "" {
		members, err := ep.systemMembers(c)
		if err != nil {
			return "", false, err
		}
		if len(members) != 1 {
			return "", false, fmt.Errorf("the BMC has %d systems (%s): name the node's system in the inventory",
				len(members), memberIDs(members))
		}
		sys.setPath(members[0], true)
		return members[0], true, nil
	}
	systemPath := sys.configured
	if !strings.Contains(systemPath, "/") {
		ep.mu.Lock()
		systemPath = strings.TrimRight(ep.links.systems, "/") + "/" + systemPath
		ep.mu.Unlock()
	}
	sys.setPath(systemPath, false)
	return systemPath, false, nil
}

func (ep *endpoint) matchSystem(c *call, sys *systemRef) (string, error) {
	members, err := ep.systemMembers(c)
	if err != nil {
		return "", err
	}
	for _, member := range members {
		normal := normalizePath(member)
		if normal == sys.configured || path.Base(normal) == path.Base(sys.configured) {
			sys.setPath(member, true)
			return member, nil
		}
	}
	return "", fmt.Errorf("system %s not found on the BMC (it has: %s)", sys.configured, memberIDs(members))
}

func (ep *endpoint) systemMembers(c *call) ([]string, error) {
	ep.mu.Lock()
	systemsURI := ep.links.systems
	ep.mu.Unlock()
	resp, err := c.get(systemsURI)
	defer schemas.DeferredCleanupHTTPResponse(resp)
	if err != nil {
		return nil, err
	}
	var collection schemas.LinksCollection
	if err := json.NewDecoder(resp.Body).Decode(&collection); err != nil {
		return nil, fmt.Errorf("systems collection: %w", err)
	}
	members := make([]string, 0, len(collection.Members))
	for _, member := range collection.Members {
		memberPath, err := ep.resolve(member.String())
		if err != nil {
			return nil, fmt.Errorf("systems collection: %w", err)
		}
		members = append(members, memberPath)
	}
	return members, nil
}

func memberIDs(members []string) string {
	if len(members) == 0 {
		return "none"
	}
	ids := make([]string, len(members))
	for i, member := range members {
		ids[i] = path.Base(normalizePath(member))
	}
	return strings.Join(ids, ", ")
}

func (s *systemRef) loadedReset() *resetInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reset
}

// systemFacts is the part of a system's JSON that does not change while bos
// runs. It is decoded from the first read of the system, whatever that read
// was for, so that learning the reset action costs no request of its own.
type systemFacts struct {
	ODataID string `json:"@odata.id"` // the system's path, as the BMC spells it
	Actions struct {
		Reset struct {
			Target     string              `json:"target"`
			ActionInfo string              `json:"@Redfish.ActionInfo"`
			Allowed    []schemas.ResetType `json:"ResetType@Redfish.AllowableValues"`
		} `json:"#ComputerSystem.Reset"`
	}
	// Boot is what the system can take and, as bos sets a node's override
	// at most once per Pool (session), the override it held before bos
	// set one: what RestoreBootOverride puts back.
	Boot *bootObject `json:"Boot"`
}

// learnFacts keeps the facts in body unless they are already known. A body
// they cannot be decoded from is not an error for the read that brought it:
// resetInfo reads the system again and reports it.
func (s *systemRef) learnFacts(body []byte) {
	if s.loadedFacts() != nil {
		return
	}
	facts := new(systemFacts)
	if json.Unmarshal(body, facts) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.facts == nil {
		s.facts = facts
	}
}

func (s *systemRef) loadedFacts() *systemFacts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.facts
}

// systemFacts returns the facts the first read of the node's system left,
// reading it now if none has.
func (p *Pool) systemFacts(ctx context.Context, ref *nodeRef) (*systemFacts, error) {
	if facts := ref.system.loadedFacts(); facts != nil {
		return facts, nil
	}
	facts := new(systemFacts)
	if err := p.readFields(ctx, ref, facts); err != nil {
		return nil, err
	}
	return facts, nil
}

// resetInfo returns the node's reset action, from its system's facts and
// from the action's @Redfish.ActionInfo where the allowed types are kept
// only there (HPE Cray EX, Gigabyte, OpenBMC): one GET per system, once.
func (p *Pool) resetInfo(ctx context.Context, ref *nodeRef) (*resetInfo, error) {
	sys := ref.system
	if info := sys.loadedReset(); info != nil {
		return info, nil
	}
	if err := sys.loadGate.enter(ctx); err != nil {
		return nil, err
	}
	defer sys.loadGate.leave()
	if info := sys.loadedReset(); info != nil {
		return info, nil
	}
	facts, err := p.systemFacts(ctx, ref)
	if err != nil {
		return nil, err
	}
	target, err := ref.endpoint.resetTarget(facts)
	if err != nil {
		return nil, err
	}
	info := &resetInfo{target: target}
	allowed, err := ref.endpoint.allowedResetTypes(ctx, facts)
	if err != nil {
		return nil, err
	}
	info.allowed = allowed
	sys.mu.Lock()
	sys.reset = info
	sys.mu.Unlock()
	return info, nil
}

// resetTarget is where the system's Reset action is posted: the target it
// advertises or, where it names none, the one the specification implies.
func (ep *endpoint) resetTarget(facts *systemFacts) (string, error) {
	target, err := ep.resolve(facts.Actions.Reset.Target)
	if err != nil || target != "" {
		return target, err
	}
	system, err := ep.resolve(facts.ODataID)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(system, "/") + "/Actions/ComputerSystem.Reset", nil
}

// allowedResetTypes are the types the system's reset action allows, nil
// when the BMC does not say. It follows gofish's
// ComputerSystem.GetSupportedResetTypes: inline AllowableValues when there
// are some, else the ActionInfo's ResetType parameter.
func (ep *endpoint) allowedResetTypes(ctx context.Context, facts *systemFacts) ([]schemas.ResetType, error) {
	reset := facts.Actions.Reset
	if len(reset.Allowed) > 0 || reset.ActionInfo == "" {
		return reset.Allowed, nil
	}
	actionInfoPath, err := ep.resolve(reset.ActionInfo)
	if err != nil {
		return nil, err
	}
	var values []string
	err = ep.do(ctx, true, func(c *call) error {
		actionInfo, err := schemas.GetObject[schemas.ActionInfo](c.client(), actionInfoPath)
		if err != nil {
			return err
		}
		values, err = actionInfo.GetParamValues("ResetType", schemas.StringParameterTypes)
		return err
	})
	if err != nil {
		if retryable(err) || httpStatus(err) == http.StatusUnauthorized || ctx.Err() != nil {
			return nil, err
		}
		// An ActionInfo that is missing or unreadable is the same as none:
		// types are then tried in preference order.
		ep.pool.logf("bmc %s: system %s: reset ActionInfo unusable (%v); will try reset types in turn",
			ep.url, facts.ODataID, err)
		return nil, nil
	}
	allowed := reset.Allowed
	for _, value := range values {
		allowed = append(allowed, schemas.ResetType(value))
	}
	return allowed, nil
}

// candidates are the preferred types the BMC allows (all of them when it
// does not say), minus those it has refused as unsupported.
func (s *systemRef) candidates(preferred, allowed []schemas.ResetType) []schemas.ResetType {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []schemas.ResetType
	for _, t := range preferred {
		if s.rejected[t] || (allowed != nil && !slices.Contains(allowed, t)) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func (s *systemRef) reject(t schemas.ResetType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rejected == nil {
		s.rejected = make(map[schemas.ResetType]bool)
	}
	s.rejected[t] = true
}

// definitelyUnsupported tells a refusal of the reset type itself, worth
// remembering, from a 400 that may be about the moment (wrong state).
func definitelyUnsupported(err error) bool {
	var httpErr *HTTPError
	if !errors.As(err, &httpErr) {
		return false
	}
	return httpErr.Status == http.StatusNotImplemented ||
		strings.Contains(httpErr.MessageID, "NotInList") || strings.Contains(httpErr.MessageID, "NotSupported")
}
