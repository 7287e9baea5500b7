package bmc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
	"github.com/bos-project/bos/internal/sim"
)

const dmtfSystem = "Systems/437XR1138R2"

// startSimNode brings up a one-node simulated fleet of the given vendor
// profile and a Pool for it.
func startSimNode(t *testing.T, profile string) (*sim.Fleet, *Pool, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fleet, err := sim.Start(ctx, sim.Options{Nodes: 1, Profile: profile, TimeScale: 0.001, Password: fixturePassword})
	require.NoError(t, err)
	t.Cleanup(func() { _ = fleet.Close() })
	info := fleet.Nodes()[0]
	node := inventory.Node{Name: info.Name, Enabled: true, BMC: inventory.BMC{
		Endpoint: info.Endpoint, System: info.System, Username: "root", Password: fixturePassword,
	}}
	return fleet, newTestPool(t, []inventory.Node{node}, testOptions()), info.Name
}

// bootActions lists what the simulated node received other than logins,
// logouts and resets, as "Kind detail status".
func bootActions(t *testing.T, fleet *sim.Fleet, name string) []string {
	t.Helper()
	status, ok := fleet.Node(name)
	require.True(t, ok)
	var actions []string
	for _, a := range status.Actions {
		switch a.Kind {
		case "Login", "Logout", "Reset":
		default:
			actions = append(actions, fmt.Sprintf("%s %s %d", a.Kind, a.Detail, a.Status))
		}
	}
	return actions
}

func TestBootCapabilitiesPerSimProfile(t *testing.T) {
	const (
		firstISO  = "http://127.0.0.1:8080/images/first.iso"
		secondISO = "http://127.0.0.1:8080/images/second.iso"
		efiURI    = "http://127.0.0.1:8080/boot/nodes/n0.efi"
	)
	tests := []struct {
		profile              string
		pxe, uefiHTTP, media bool
		wantActions          []string
	}{
		{profile: "dmtf", pxe: true, media: true, wantActions: []string{
			"PatchBoot Pxe/Once 204", "InsertMedia " + firstISO + " 204", "EjectMedia CD1 204", "InsertMedia " + secondISO + " 204"}},
		{profile: "ilo", pxe: true, uefiHTTP: true, media: true, wantActions: []string{
			"PatchBoot Pxe/Once 204", "PatchBoot UefiHttp/Once/" + efiURI + " 204",
			"InsertMedia " + firstISO + " 204", "EjectMedia 1 204", "InsertMedia " + secondISO + " 204"}},
		// No Boot override and no VirtualMedia: nothing may be sent.
		{profile: "cray-ex"},
		{profile: "gigabyte", pxe: true, uefiHTTP: true, media: true, wantActions: []string{
			"PatchBoot Pxe/Once 204", "PatchBoot UefiHttp/Once/" + efiURI + " 204",
			"InsertMedia " + firstISO + " 204", "EjectMedia CD1 204", "InsertMedia " + secondISO + " 204"}},
		// VirtualMedia under the system rather than the manager.
		{profile: "openbmc", pxe: true, media: true, wantActions: []string{
			"PatchBoot Pxe/Once 204", "InsertMedia " + firstISO + " 204", "EjectMedia 1 204", "InsertMedia " + secondISO + " 204"}},
		// An empty VirtualMedia collection.
		{profile: "intel", pxe: true, wantActions: []string{"PatchBoot Pxe/Once 204"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			fleet, pool, name := startSimNode(t, tt.profile)
			ctx := context.Background()
			checkSupported := func(err, sentinel error, supported bool) {
				t.Helper()
				if supported {
					assert.NoError(t, err)
					return
				}
				assert.ErrorIs(t, err, sentinel)
				assert.ErrorContains(t, err, "node "+name+" (bmc ")
				assert.True(t, strings.HasPrefix(reason.Of(err), sentinel.Error()+": "), "the reason is the cause: %s", reason.Of(err))
			}

			_, err := pool.SetBootOverride(ctx, name, BootOverride{Target: BootTargetPxe, Once: true})
			checkSupported(err, ErrBootOverrideUnsupported, tt.pxe)
			_, err = pool.SetBootOverride(ctx, name, BootOverride{Target: BootTargetUefiHTTP, URI: efiURI, Once: true})
			checkSupported(err, ErrBootOverrideUnsupported, tt.uefiHTTP)
			checkSupported(pool.InsertMedia(ctx, name, firstISO), ErrVirtualMediaUnsupported, tt.media)
			checkSupported(pool.InsertMedia(ctx, name, secondISO), ErrVirtualMediaUnsupported, tt.media)
			assert.Equal(t, tt.wantActions, bootActions(t, fleet, name))

			progress, err := pool.BootProgress(ctx, name)
			require.NoError(t, err)
			status, _ := fleet.Node(name)
			assert.Equal(t, status.BootProgress, progress.LastState)
			assert.NotEmpty(t, progress.LastState, "the simulator always reports boot progress")
			assert.False(t, progress.LastStateTime.IsZero(), "with the time it got there")
		})
	}
}

// quirkyBMC puts a front before a fixtureBMC that carries out PATCHes of
// systems and VirtualMedia actions the way a configured BMC would, for the
// quirks the simulator does not have.
type quirkyBMC struct {
	*fixtureBMC
	front *httptest.Server

	// Guarded by fixtureBMC.mu.
	patchStatus int    // 0: carry out PATCHes; otherwise answer this status
	patchID     string // MessageID of the refusal
	ignorePatch bool   // answer 204 and change nothing
	mediaStatus int    // 0: carry out media actions; otherwise answer this status
	received    []string
}

func newQuirkyBMC(t *testing.T) *quirkyBMC {
	t.Helper()
	q := &quirkyBMC{fixtureBMC: newFixtureBMC(t, "dmtf")}
	q.front = httptest.NewServer(http.HandlerFunc(q.serveFront))
	t.Cleanup(q.front.Close)
	return q
}

func (q *quirkyBMC) pool(t *testing.T) (*Pool, string) {
	t.Helper()
	node := q.node("n0", "")
	node.BMC.Endpoint = q.front.URL
	return newTestPool(t, []inventory.Node{node}, testOptions()), node.Name
}

func (q *quirkyBMC) configure(change func(q *quirkyBMC)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	change(q)
}

func (q *quirkyBMC) requests() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.received...)
}

// put stores a resource as the BMC serves it.
func (q *quirkyBMC) put(key string, doc map[string]any) {
	body, err := json.Marshal(doc)
	require.NoError(q.t, err)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.resources[key] = body
}

// update changes a stored resource under the fixture's lock.
func (q *quirkyBMC) update(key string, change func(doc map[string]any)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var doc map[string]any
	require.NoError(q.t, json.Unmarshal(q.resources[key], &doc), key)
	change(doc)
	body, err := json.Marshal(doc)
	require.NoError(q.t, err)
	q.resources[key] = body
}

func (q *quirkyBMC) serveFront(w http.ResponseWriter, r *http.Request) {
	key := resourceKey(r.URL.Path)
	intercepted := r.Method == http.MethodPatch && strings.HasPrefix(key, "Systems/") ||
		r.Method == http.MethodPost && strings.Contains(key, "/Actions/VirtualMedia.")
	if !intercepted || !q.authorized(r) {
		q.serve(w, r)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeRedfishError(w, http.StatusBadRequest, "Base.1.8.MalformedJSON", err.Error())
		return
	}
	q.mu.Lock()
	q.received = append(q.received, r.Method+" "+key)
	patchStatus, patchID, ignorePatch, mediaStatus := q.patchStatus, q.patchID, q.ignorePatch, q.mediaStatus
	q.mu.Unlock()
	if r.Method == http.MethodPatch {
		switch {
		case patchStatus != 0:
			writeRedfishError(w, patchStatus, patchID, "refused")
		case ignorePatch:
			w.WriteHeader(http.StatusNoContent)
		default:
			q.update(key, func(doc map[string]any) {
				boot, _ := doc["Boot"].(map[string]any)
				for field, value := range body["Boot"].(map[string]any) {
					boot[field] = value
				}
			})
			w.WriteHeader(http.StatusNoContent)
		}
		return
	}
	if mediaStatus != 0 {
		writeRedfishError(w, mediaStatus, "Base.1.8.ActionNotSupported", "refused")
		return
	}
	slot, action, _ := strings.Cut(key, "/Actions/VirtualMedia.")
	q.update(slot, func(doc map[string]any) {
		if action == "InsertMedia" {
			doc["Image"], doc["Inserted"] = body["Image"], true
		} else {
			doc["Image"], doc["Inserted"] = nil, false
		}
	})
	w.WriteHeader(http.StatusNoContent)
}

// withBoot gives the fixture's system a Boot object; allowed nil leaves
// out the AllowableValues annotation.
func (q *quirkyBMC) withBoot(allowed []string) {
	boot := map[string]any{"BootSourceOverrideEnabled": "Disabled", "BootSourceOverrideTarget": "None"}
	if allowed != nil {
		boot["BootSourceOverrideTarget@Redfish.AllowableValues"] = allowed
	}
	q.set(dmtfSystem, "Boot", boot)
}

func TestBootOverrideQuirks(t *testing.T) {
	tests := []struct {
		name        string
		allowed     []string
		quirk       func(q *quirkyBMC)
		override    BootOverride
		wantErr     string // "" means success
		wantPatched bool
	}{
		{name: "applied and read back", allowed: []string{"None", "Pxe"},
			override: BootOverride{Target: BootTargetPxe, Once: true}, wantPatched: true},
		{name: "continuous", allowed: []string{"None", "Pxe"},
			override: BootOverride{Target: BootTargetPxe}, wantPatched: true},
		{name: "no allowable values: tried", override: BootOverride{Target: BootTargetCd, Once: true}, wantPatched: true},
		{name: "PATCH refused with 405", allowed: []string{"Pxe"},
			quirk: func(q *quirkyBMC) {
				q.patchStatus, q.patchID = http.StatusMethodNotAllowed, "Base.1.8.OperationNotAllowed"
			},
			override: BootOverride{Target: BootTargetPxe, Once: true}, wantPatched: true,
			wantErr: "boot override unsupported: the BMC refused it: HTTP 405"},
		{name: "value refused without allowable values",
			quirk: func(q *quirkyBMC) {
				q.patchStatus, q.patchID = http.StatusBadRequest, "Base.1.8.PropertyValueNotInList"
			},
			override: BootOverride{Target: BootTargetUefiHTTP, URI: "http://127.0.0.1/x.efi", Once: true}, wantPatched: true,
			wantErr: "boot override unsupported: the BMC refused it: HTTP 400"},
		{name: "accepted but ignored", allowed: []string{"None", "Pxe"},
			quirk:    func(q *quirkyBMC) { q.ignorePatch = true },
			override: BootOverride{Target: BootTargetPxe, Once: true}, wantPatched: true,
			wantErr: "boot override unsupported: the BMC accepted it but ignored it (it reads back None/Disabled)"},
		{name: "target not offered", allowed: []string{"None", "Pxe"},
			override: BootOverride{Target: BootTargetUefiHTTP, Once: true},
			wantErr:  "boot override unsupported: target UefiHttp is not offered (BMC allows None, Pxe)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuirkyBMC(t)
			q.withBoot(tt.allowed)
			if tt.quirk != nil {
				q.configure(tt.quirk)
			}
			pool, name := q.pool(t)
			_, err := pool.SetBootOverride(context.Background(), name, tt.override)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrBootOverrideUnsupported)
				assert.ErrorContains(t, err, tt.wantErr)
			}
			var patches []string
			if tt.wantPatched {
				patches = []string{"PATCH " + dmtfSystem}
			}
			assert.Equal(t, patches, q.requests())
		})
	}
}

func TestBootOverrideServerErrorIsNotUnsupported(t *testing.T) {
	q := newQuirkyBMC(t)
	q.withBoot([]string{"Pxe"})
	q.configure(func(q *quirkyBMC) {
		q.patchStatus, q.patchID = http.StatusInternalServerError, "Base.1.8.InternalError"
	})
	pool, name := q.pool(t)
	_, err := pool.SetBootOverride(context.Background(), name, BootOverride{Target: BootTargetPxe, Once: true})
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrBootOverrideUnsupported)
	assert.ErrorContains(t, err, "HTTP 500")
	assert.Len(t, q.requests(), 1+testOptions().withDefaults().Retries, "a PATCH is idempotent: retried")
}

func TestBootProgressAsReported(t *testing.T) {
	tests := []struct {
		name     string
		reported any // the BootProgress property; nil leaves it out
		want     power.BootProgress
	}{
		{name: "absent"},
		{name: "null state", reported: map[string]any{"LastState": nil}},
		{name: "state without time", reported: map[string]any{"LastState": "OSBootStarted"},
			want: power.BootProgress{LastState: "OSBootStarted"}},
		{name: "bmcweb's time", reported: map[string]any{"LastState": "OSRunning", "LastStateTime": "2024-05-01T10:20:30.123456+02:00"},
			want: power.BootProgress{LastState: "OSRunning", LastStateTime: time.Date(2024, 5, 1, 8, 20, 30, 123456000, time.UTC)}},
		{name: "epoch, as OpenBMC reports None", reported: map[string]any{"LastState": "None", "LastStateTime": "1970-01-01T00:00:00+00:00"},
			want: power.BootProgress{LastState: "None", LastStateTime: time.Unix(0, 0)}},
		{name: "a time that is none", reported: map[string]any{"LastState": "OSRunning", "LastStateTime": "yesterday"},
			want: power.BootProgress{LastState: "OSRunning"}},
		{name: "a time of the wrong type", reported: map[string]any{"LastState": "OSRunning", "LastStateTime": nil},
			want: power.BootProgress{LastState: "OSRunning"}},
		// It may be shown in a reason: no terminal escapes, no page of text.
		{name: "a state with an escape", reported: map[string]any{"LastState": "\x1b[2JOSRunning"},
			want: power.BootProgress{LastState: "?[2JOSRunning"}},
		{name: "a state without end", reported: map[string]any{"LastState": strings.Repeat("A", 10000)},
			want: power.BootProgress{LastState: strings.Repeat("A", 64) + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuirkyBMC(t)
			if tt.reported != nil {
				q.set(dmtfSystem, "BootProgress", tt.reported)
			}
			pool, name := q.pool(t)
			progress, err := pool.BootProgress(context.Background(), name)
			require.NoError(t, err)
			assert.Equal(t, tt.want.LastState, progress.LastState)
			assert.True(t, tt.want.LastStateTime.Equal(progress.LastStateTime), "time %s, want %s", progress.LastStateTime, tt.want.LastStateTime)
		})
	}
}

func TestBootCapabilitiesOfUnknownNode(t *testing.T) {
	pool := newTestPool(t, nil, testOptions())
	ctx := context.Background()
	_, err := pool.SetBootOverride(ctx, "ghost", BootOverride{Target: BootTargetPxe})
	assert.ErrorIs(t, err, ErrUnknownNode)
	assert.ErrorIs(t, pool.InsertMedia(ctx, "ghost", "http://127.0.0.1/a.iso"), ErrUnknownNode)
	_, err = pool.EjectMedia(ctx, "ghost", "http://127.0.0.1/a.iso")
	assert.ErrorIs(t, err, ErrUnknownNode)
	_, _, err = pool.RestoreBootOverride(ctx, "ghost", BootOverrideChange{})
	assert.ErrorIs(t, err, ErrUnknownNode)
	_, err = pool.BootProgress(ctx, "ghost")
	assert.ErrorIs(t, err, ErrUnknownNode)
}
