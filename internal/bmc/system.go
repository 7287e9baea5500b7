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

	mu       sync.Mutex // guards the fields below
	path     string     // the path requests go to; empty until known
	verified bool       // path was read from the BMC's Systems collection
	reset    *resetInfo
	rejected map[schemas.ResetType]bool // types the BMC refused as unsupported
}

// resetInfo is where a system's Reset action is and what it allows; nil
// allowed means the BMC does not say.
type resetInfo struct {
	target  string
	allowed []schemas.ResetType
}

func normalizePath(system string) string {
	return strings.TrimRight(pathOf(system), "/")
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

// getSystem reads the system with gofish, for what needs its full model
// (the allowed reset types).
func (ep *endpoint) getSystem(c *call, sys *systemRef) (*schemas.ComputerSystem, error) {
	var system *schemas.ComputerSystem
	err := ep.atSystem(c, sys, func(systemPath string) error {
		var err error
		system, err = schemas.GetComputerSystem(c.client(), systemPath)
		return err
	})
	return system, err
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
			return "", false, fmt.Errorf("bmc %s has %d systems (%s): name the node's system in the inventory",
				ep.url, len(members), memberIDs(members))
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
	return "", fmt.Errorf("system %s not found on bmc %s (it has: %s)", sys.configured, ep.url, memberIDs(members))
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
		return nil, fmt.Errorf("bmc %s: systems collection: %w", ep.url, err)
	}
	members := make([]string, 0, len(collection.Members))
	for _, member := range collection.Members {
		members = append(members, pathOf(member.String()))
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

// resetInfo returns the node's reset action, reading it (and its
// @Redfish.ActionInfo where the allowed types are kept there) on first use.
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
	var info *resetInfo
	err := ref.endpoint.do(ctx, true, func(c *call) error {
		system, err := ref.endpoint.getSystem(c, sys)
		if err != nil {
			return err
		}
		info, err = ref.endpoint.readResetInfo(system)
		return err
	})
	if err != nil {
		return nil, err
	}
	sys.mu.Lock()
	sys.reset = info
	sys.mu.Unlock()
	return info, nil
}

func (ep *endpoint) readResetInfo(system *schemas.ComputerSystem) (*resetInfo, error) {
	var raw struct {
		Actions struct {
			Reset struct {
				Target string `json:"target"`
			} `json:"#ComputerSystem.Reset"`
		}
	}
	if err := json.Unmarshal(system.RawData, &raw); err != nil {
		return nil, fmt.Errorf("system %s: %w", system.ODataID, err)
	}
	info := &resetInfo{target: pathOf(raw.Actions.Reset.Target)}
	if info.target == "" {
		info.target = strings.TrimRight(system.ODataID, "/") + "/Actions/ComputerSystem.Reset"
	}
	allowed, err := system.GetSupportedResetTypes()
	if err != nil {
		err = ep.explain(err)
		if retryable(err) || httpStatus(err) == http.StatusUnauthorized {
			return nil, err
		}
		// An ActionInfo that is missing or unreadable is the same as none:
		// types are then tried in preference order.
		ep.pool.logf("bmc %s: system %s: reset ActionInfo unusable (%v); will try reset types in turn",
			ep.url, system.ODataID, err)
		allowed = nil
	}
	info.allowed = allowed
	return info, nil
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
