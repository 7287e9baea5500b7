package bmc

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const isoURL = "http://127.0.0.1:8080/images/install.iso"

func link(path string) map[string]any { return map[string]any{"@odata.id": path} }

func collection(members ...string) map[string]any {
	links := make([]any, len(members))
	for i, m := range members {
		links[i] = link(m)
	}
	return map[string]any{"Members": links, "Members@odata.count": len(members)}
}

func slot(path string, mediaTypes []string, image any, inserted any) map[string]any {
	doc := map[string]any{"@odata.id": path, "MediaTypes": mediaTypes, "Image": image}
	if inserted != nil {
		doc["Inserted"] = inserted
	}
	return doc
}

// withManagerMedia puts VirtualMedia slots under Managers/BMC; managedBy
// says whether the system links to its manager.
func (q *quirkyBMC) withManagerMedia(managedBy bool, slots ...map[string]any) {
	const manager = "/redfish/v1/Managers/BMC"
	q.put("Managers", collection(manager))
	q.put("Managers/BMC", map[string]any{"@odata.id": manager, "VirtualMedia": link(manager + "/VirtualMedia")})
	q.withSlots(manager+"/VirtualMedia", slots...)
	if managedBy {
		q.set(dmtfSystem, "Links", map[string]any{"ManagedBy": []any{link(manager)}})
	}
}

func (q *quirkyBMC) withSlots(collectionPath string, slots ...map[string]any) {
	members := make([]string, len(slots))
	for i, s := range slots {
		members[i] = s["@odata.id"].(string)
		q.put(resourceKey(members[i]), s)
	}
	q.put(resourceKey(collectionPath), collection(members...))
}

const (
	floppy = "/redfish/v1/Managers/BMC/VirtualMedia/Floppy1"
	cd     = "/redfish/v1/Managers/BMC/VirtualMedia/CD1"
)

func TestInsertMediaQuirks(t *testing.T) {
	cdKey := resourceKey(cd)
	insert := "POST " + cdKey + "/Actions/VirtualMedia.InsertMedia"
	eject := "POST " + cdKey + "/Actions/VirtualMedia.EjectMedia"
	tests := []struct {
		name      string
		setup     func(q *quirkyBMC)
		wantPosts []string
		wantErr   string
	}{
		{name: "empty Image string", setup: func(q *quirkyBMC) {
			q.withManagerMedia(true, slot(floppy, []string{"Floppy"}, "", false), slot(cd, []string{"CD", "DVD"}, "", false))
		}, wantPosts: []string{insert}},
		{name: "Image None without Inserted", setup: func(q *quirkyBMC) {
			q.withManagerMedia(true, slot(cd, []string{"CD"}, "None", nil))
		}, wantPosts: []string{insert}},
		{name: "Image null", setup: func(q *quirkyBMC) {
			q.withManagerMedia(true, slot(cd, []string{"DVD"}, nil, false))
		}, wantPosts: []string{insert}},
		{name: "inserted image is ejected first", setup: func(q *quirkyBMC) {
			q.withManagerMedia(true, slot(cd, []string{"CD"}, "http://127.0.0.1/old.iso", true))
		}, wantPosts: []string{eject, insert}},
		{name: "no ManagedBy: the Managers collection is searched", setup: func(q *quirkyBMC) {
			q.withManagerMedia(false, slot(cd, []string{"CD"}, nil, false))
		}, wantPosts: []string{insert}},
		{name: "VirtualMedia under the system", setup: func(q *quirkyBMC) {
			const own = "/redfish/v1/Systems/437XR1138R2/VirtualMedia"
			q.withSlots(own, slot(own+"/1", []string{"CD"}, "", false))
			q.set(dmtfSystem, "VirtualMedia", link(own))
		}, wantPosts: []string{"POST " + dmtfSystem + "/VirtualMedia/1/Actions/VirtualMedia.InsertMedia"}},
		{name: "no CD slot", setup: func(q *quirkyBMC) {
			q.withManagerMedia(true, slot(floppy, []string{"Floppy", "USBStick"}, "", false))
		}, wantErr: "virtual media unsupported: no CD/DVD slot in /redfish/v1/Managers/BMC/VirtualMedia"},
		{name: "no VirtualMedia at all", setup: func(q *quirkyBMC) {},
			wantErr: "virtual media unsupported: no VirtualMedia collection under the system or its managers"},
		{name: "insert refused", setup: func(q *quirkyBMC) {
			q.withManagerMedia(true, slot(cd, []string{"CD"}, "", false))
			q.configure(func(q *quirkyBMC) { q.mediaStatus = http.StatusMethodNotAllowed })
		}, wantPosts: []string{insert}, wantErr: "virtual media unsupported: the BMC refused it: HTTP 405"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuirkyBMC(t)
			tt.setup(q)
			pool, name := q.pool(t)
			err := pool.InsertMedia(context.Background(), name, isoURL)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrVirtualMediaUnsupported)
				assert.ErrorContains(t, err, tt.wantErr)
			}
			assert.Equal(t, tt.wantPosts, q.requests())
		})
	}
}

func TestInsertMediaNeverShowsURLCredentials(t *testing.T) {
	q := newQuirkyBMC(t)
	pool, name := q.pool(t)
	err := pool.InsertMedia(context.Background(), name, "https://isouser:iso-Secret@127.0.0.1/a.iso")
	require.ErrorIs(t, err, ErrVirtualMediaUnsupported)
	assert.NotContains(t, err.Error(), "iso-Secret")
}
