package bootimage

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/sim"
	"github.com/bos-project/bos/internal/template"
)

// TestPrepareBootAgainstSimulatedVendors drives the real Redfish driver:
// pxe goes on everywhere (Cray EX relying on its boot order), http fails
// where the BMC offers no UefiHttp override.
func TestPrepareBootAgainstSimulatedVendors(t *testing.T) {
	tests := []struct {
		profile     string
		pxeWarnings []string
		httpBoots   bool
		wantPxeSet  bool
	}{
		{profile: "dmtf", wantPxeSet: true},
		{profile: "ilo", wantPxeSet: true, httpBoots: true},
		{profile: "cray-ex", pxeWarnings: []string{"no one-time boot override (the system's Boot object has no BootSourceOverrideTarget): relied on the boot order"}},
		{profile: "gigabyte", wantPxeSet: true, httpBoots: true},
		{profile: "openbmc", wantPxeSet: true},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			ctx := context.Background()
			fleet, err := sim.Start(ctx, sim.Options{Nodes: 1, Profile: tt.profile, TimeScale: 0.001, Password: "sim-password"})
			require.NoError(t, err)
			t.Cleanup(func() { _ = fleet.Close() })
			info := fleet.Nodes()[0]
			pool := bmc.NewPool([]inventory.Node{{Name: info.Name, Enabled: true, BMC: inventory.BMC{
				Endpoint: info.Endpoint, System: info.System, Username: "root", Password: "sim-password"}}}, bmc.Options{})
			t.Cleanup(func() { _ = pool.Close(ctx) })

			store := newObjectStore(t)
			bootSets := map[string]BootSetSpec{
				"pxe":  computeSpec,
				"http": {Path: manifestPath, BootMethod: template.BootMethodHTTP},
			}
			p, _ := store.preparer(t, bootSets, nil, pool)

			warnings, err := p.PrepareBoot(ctx, sessionID, "pxe", info.Name)
			require.NoError(t, err)
			assert.Equal(t, tt.pxeWarnings, warnings)

			_, err = p.PrepareBoot(ctx, sessionID, "http", info.Name)
			if tt.httpBoots {
				require.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, bmc.ErrBootOverrideUnsupported)
				assert.ErrorContains(t, err, "boot override unsupported")
			}

			status, _ := fleet.Node(info.Name)
			var patches []string
			for _, a := range status.Actions {
				if a.Kind == "PatchBoot" {
					patches = append(patches, a.Detail)
				}
			}
			var want []string
			if tt.wantPxeSet {
				want = append(want, "Pxe/Once")
			}
			if tt.httpBoots {
				want = append(want, "UefiHttp/Once/"+baseURL+"/ipxe.efi")
			}
			assert.Equal(t, want, patches)
		})
	}
}
