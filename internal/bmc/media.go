package bmc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// ErrVirtualMediaUnsupported means the node's BMC has no virtual CD/DVD it
// can insert an image into: no VirtualMedia collection under the system or
// its managers, no CD/DVD slot, or the insert action refused.
var ErrVirtualMediaUnsupported = errors.New("virtual media unsupported")

// defaultManagers is the Managers collection the Redfish specification
// fixes, used when a system does not name the managers that manage it.
const defaultManagers = "/redfish/v1/Managers"

// mediaSlot is one VirtualMedia resource.
type mediaSlot struct {
	ODataID    string   `json:"@odata.id"`
	MediaTypes []string `json:"MediaTypes"`
	Image      *string  `json:"Image"`
	Inserted   *bool    `json:"Inserted"`
	Actions    struct {
		Insert struct {
			Target string `json:"target"`
		} `json:"#VirtualMedia.InsertMedia"`
		Eject struct {
			Target string `json:"target"`
		} `json:"#VirtualMedia.EjectMedia"`
	} `json:"Actions"`
}

// holdsMedia says whether something is inserted. BMCs spell an empty slot
// as Image "", null or "None".
func (s mediaSlot) holdsMedia() bool {
	if s.Inserted != nil && *s.Inserted {
		return true
	}
	return s.Image != nil && *s.Image != "" && !strings.EqualFold(*s.Image, "None")
}

// holdsImage says whether imageURL is what the slot holds: a slot that
// says it is not inserted holds nothing, whatever Image it still names.
func (s mediaSlot) holdsImage(imageURL string) bool {
	return (s.Inserted == nil || *s.Inserted) && s.Image != nil && *s.Image == imageURL
}

func (s mediaSlot) takesCD() bool {
	for _, t := range s.MediaTypes {
		if strings.EqualFold(t, "CD") || strings.EqualFold(t, "DVD") {
			return true
		}
	}
	return false
}

// resolveSlot checks a slot's links once, when it is found, and fills in
// the action targets the specification implies where the BMC names none.
// memberPath is the slot's (resolved) link in its collection.
func (ep *endpoint) resolveSlot(slot *mediaSlot, memberPath string) error {
	odataID, err := ep.resolve(slot.ODataID)
	if err != nil {
		return err
	}
	if odataID == "" {
		odataID = memberPath
	}
	slot.ODataID = odataID
	for _, action := range []struct {
		target *string
		name   string
	}{
		{&slot.Actions.Insert.Target, "InsertMedia"},
		{&slot.Actions.Eject.Target, "EjectMedia"},
	} {
		target, err := ep.resolve(*action.target)
		if err != nil {
			return err
		}
		if target == "" {
			target = strings.TrimRight(odataID, "/") + "/Actions/VirtualMedia." + action.name
		}
		*action.target = target
	}
	return nil
}

// InsertMedia inserts the image at imageURL into the node's virtual CD/DVD,
// ejecting whatever is inserted first. An error wrapping
// ErrVirtualMediaUnsupported means this BMC cannot do it.
func (p *Pool) InsertMedia(ctx context.Context, node, imageURL string) error {
	wrap := func(err error) error {
		return p.nodeError(node, "insert virtual media "+redactURL(imageURL), err)
	}
	ref, err := p.node(node)
	if err != nil {
		return wrap(err)
	}
	slot, err := p.findCDSlot(ctx, ref)
	if err != nil {
		return wrap(err)
	}
	if slot.holdsMedia() {
		if err := p.postMediaAction(ctx, ref, slot.Actions.Eject.Target, struct{}{}, true); err != nil {
			return wrap(fmt.Errorf("eject %s first: %w", slot.ODataID, err))
		}
	}
	payload := struct {
		Image          string
		Inserted       bool
		WriteProtected bool
	}{imageURL, true, true}
	// A second insert may be refused as "already inserted": never re-send
	// one that may have landed.
	if err := p.postMediaAction(ctx, ref, slot.Actions.Insert.Target, payload, false); err != nil {
		return wrap(fmt.Errorf("%s: %w", slot.ODataID, err))
	}
	p.logf("node %s: inserted virtual media into %s", node, slot.ODataID)
	return nil
}

// EjectMedia ejects imageURL from the node's virtual CD/DVD (the slot
// InsertMedia uses) if that is what it holds, and reports whether it did:
// media inserted by someone else since is left alone.
func (p *Pool) EjectMedia(ctx context.Context, node, imageURL string) (bool, error) {
	wrap := func(err error) error {
		return p.nodeError(node, "eject virtual media "+redactURL(imageURL), err)
	}
	ref, err := p.node(node)
	if err != nil {
		return false, wrap(err)
	}
	slot, err := p.findCDSlot(ctx, ref)
	if err != nil {
		return false, wrap(err)
	}
	if !slot.holdsImage(imageURL) {
		return false, nil
	}
	if err := p.postMediaAction(ctx, ref, slot.Actions.Eject.Target, struct{}{}, true); err != nil {
		return false, wrap(fmt.Errorf("%s: %w", slot.ODataID, err))
	}
	p.logf("node %s: ejected virtual media from %s", node, slot.ODataID)
	return true, nil
}

func (p *Pool) postMediaAction(ctx context.Context, ref *nodeRef, target string, payload any, idempotent bool) error {
	err := ref.endpoint.do(ctx, idempotent, func(c *call) error {
		resp, err := c.client().Post(target, payload)
		schemas.DeferredCleanupHTTPResponse(resp)
		return err
	})
	if err != nil && refusedAsUnsupported(err) {
		return fmt.Errorf("%w: the BMC refused it: %w", ErrVirtualMediaUnsupported, err)
	}
	return err
}

// findCDSlot looks for a CD/DVD-capable VirtualMedia slot under the system
// itself (newer Redfish) and then under the managers that manage it.
func (p *Pool) findCDSlot(ctx context.Context, ref *nodeRef) (mediaSlot, error) {
	var (
		found    mediaSlot
		searched []string
	)
	ep := ref.endpoint
	err := ep.do(ctx, true, func(c *call) error {
		searched = searched[:0]
		client := c.client()
		system, err := ep.readSystem(c, ref.system)
		if err != nil {
			return err
		}
		collections, err := ep.mediaCollections(client, system)
		if err != nil {
			return err
		}
		for _, collection := range collections {
			slot, ok, err := ep.cdSlotIn(client, collection)
			if err != nil || ok {
				found = slot
				return err
			}
			searched = append(searched, collection)
		}
		return errNoCDSlot
	})
	if errors.Is(err, errNoCDSlot) {
		where := "no VirtualMedia collection under the system or its managers"
		if len(searched) > 0 {
			where = "no CD/DVD slot in " + strings.Join(searched, ", ")
		}
		return found, fmt.Errorf("%w: %s", ErrVirtualMediaUnsupported, where)
	}
	return found, err
}

var errNoCDSlot = errors.New("no CD/DVD slot")

// mediaCollections lists the VirtualMedia collections that may hold the
// system's virtual CD, the system's own first.
func (ep *endpoint) mediaCollections(client *gofish.APIClient, system systemSettings) ([]string, error) {
	var collections []string
	own, err := ep.resolve(system.VirtualMedia.String())
	if err != nil {
		return nil, err
	}
	if own != "" {
		collections = append(collections, own)
	}
	managers := system.Links.ManagedBy
	if len(managers) == 0 {
		var all schemas.LinksCollection
		if found, err := ep.getJSON(client, defaultManagers, &all); err != nil || !found {
			return collections, err
		}
		managers = all.Members
	}
	for _, manager := range managers {
		var m struct {
			VirtualMedia schemas.Link `json:"VirtualMedia"`
		}
		managerPath, err := ep.resolve(manager.String())
		if err != nil {
			return nil, err
		}
		found, err := ep.getJSON(client, managerPath, &m)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		collection, err := ep.resolve(m.VirtualMedia.String())
		if err != nil {
			return nil, err
		}
		if collection != "" {
			collections = append(collections, collection)
		}
	}
	return collections, nil
}

// cdSlotIn returns the first CD/DVD-capable slot of a collection.
func (ep *endpoint) cdSlotIn(client *gofish.APIClient, collection string) (mediaSlot, bool, error) {
	var members schemas.LinksCollection
	if found, err := ep.getJSON(client, collection, &members); err != nil || !found {
		return mediaSlot{}, false, err
	}
	for _, member := range members.Members {
		memberPath, err := ep.resolve(member.String())
		if err != nil {
			return mediaSlot{}, false, err
		}
		var slot mediaSlot
		found, err := ep.getJSON(client, memberPath, &slot)
		if err != nil {
			return mediaSlot{}, false, err
		}
		if found && slot.takesCD() {
			return slot, true, ep.resolveSlot(&slot, memberPath)
		}
	}
	return mediaSlot{}, false, nil
}

// getJSON reads a resource into v; a resource that is not there (404) is
// reported as not found rather than as an error.
func (ep *endpoint) getJSON(client *gofish.APIClient, uri string, v any) (bool, error) {
	resp, err := client.Get(uri)
	defer schemas.DeferredCleanupHTTPResponse(resp)
	if err != nil {
		if httpStatus(ep.explain(err)) == http.StatusNotFound {
			return false, nil
		}
		return false, err
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return false, fmt.Errorf("%s: %w", uri, err)
	}
	return true, nil
}

// redactURL hides any user:password in a URL before it is shown.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	return raw
}
