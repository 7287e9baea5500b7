package bmc

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/sim"
)

// TestRestoreBootOverrideAgainstSim: bos puts back the override the node
// held before, but only what it set and the boot did not use.
func TestRestoreBootOverrideAgainstSim(t *testing.T) {
	pxeOnce := BootOverride{Target: BootTargetPxe, Once: true}
	tests := []struct {
		name           string
		fault          sim.FaultKind
		boot           bool                                        // power the node on between setting and restoring
		meanwhile      func(t *testing.T, pool *Pool, node string) // someone else's change
		wantPersistent bool
		wantRestored   bool
		wantPatches    []string
		wantSource     string
	}{
		{name: "persistent: restored after the boot", fault: sim.FaultOverridePersistent, boot: true,
			wantPersistent: true, wantRestored: true,
			wantPatches: []string{"Pxe/Once", "None/Disabled"}, wantSource: "None/Disabled"},
		{name: "one-time, used by the boot: left alone", boot: true,
			wantPatches: []string{"Pxe/Once"}, wantSource: "Pxe/Disabled"},
		{name: "one-time, never used (no power-on): restored",
			wantRestored: true, wantPatches: []string{"Pxe/Once", "None/Disabled"}, wantSource: "None/Disabled"},
		{name: "changed by someone else since: left alone", fault: sim.FaultOverridePersistent, boot: true,
			meanwhile: func(t *testing.T, pool *Pool, node string) {
				_, err := pool.SetBootOverride(context.Background(), node, BootOverride{Target: BootTargetCd})
				require.NoError(t, err)
			},
			wantPersistent: true,
			wantPatches:    []string{"Pxe/Once", "Cd/Continuous"}, wantSource: "Cd/Continuous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := sim.Options{Nodes: 1}
			if tt.fault != "" {
				opts.Faults = []sim.Fault{{Kind: tt.fault, Fraction: 1}}
			}
			fleet := startSim(t, opts)
			nodes := simInventory(fleet)
			name := nodes[0].Name
			require.NoError(t, fleet.SetPower(name, "Off"))
			pool := newTestPool(t, nodes, testOptions())
			ctx := context.Background()

			change, err := pool.SetBootOverride(ctx, name, pxeOnce)
			require.NoError(t, err)
			assert.Equal(t, BootOverrideSetting{Target: "None", Enabled: "Disabled"}, change.Before)
			assert.Equal(t, tt.wantPersistent, change.Persistent(), "reads back %s", change.After)
			if tt.boot {
				require.NoError(t, errOf(pool.Reset(ctx, name, power.PowerOn)))
			}
			if tt.meanwhile != nil {
				tt.meanwhile(t, pool, name)
			}

			_, restored, err := pool.RestoreBootOverride(ctx, name, change)
			require.NoError(t, err)
			assert.Equal(t, tt.wantRestored, restored)
			status := simStatus(t, fleet, name)
			assert.Equal(t, tt.wantPatches, actionsOf(status, "PatchBoot"))
			assert.Equal(t, tt.wantSource, status.BootSource)
		})
	}
}

// TestBootOverrideOutcomes: what SetBootOverride tells the caller, for the
// warning it records and the restore after the boot.
func TestBootOverrideOutcomes(t *testing.T) {
	t.Run("a refusal says its cause briefly", func(t *testing.T) {
		q := newQuirkyBMC(t)
		q.withBoot([]string{"None", "Pxe"})
		q.configure(func(q *quirkyBMC) {
			q.patchStatus, q.patchID = http.StatusMethodNotAllowed, "Base.1.8.OperationNotAllowed"
		})
		pool, name := q.pool(t)
		_, err := pool.SetBootOverride(context.Background(), name, BootOverride{Target: BootTargetPxe, Once: true})
		var unsupported *BootOverrideUnsupportedError
		require.ErrorAs(t, err, &unsupported)
		assert.Equal(t, "HTTP 405", unsupported.Cause)
		assert.ErrorIs(t, err, ErrBootOverrideUnsupported)
		assert.NotErrorIs(t, err, ErrBootOverrideIgnored)
	})
	t.Run("no Boot object", func(t *testing.T) {
		q := newQuirkyBMC(t)
		q.set(dmtfSystem, "Boot", deleteField)
		pool, name := q.pool(t)
		_, err := pool.SetBootOverride(context.Background(), name, BootOverride{Target: BootTargetPxe, Once: true})
		var unsupported *BootOverrideUnsupportedError
		require.ErrorAs(t, err, &unsupported)
		assert.Equal(t, "the system has no Boot object", unsupported.Cause)
		assert.Empty(t, q.requests(), "nothing sent")
	})
	t.Run("ignored: what it reads back", func(t *testing.T) {
		q := newQuirkyBMC(t)
		q.withBoot([]string{"None", "Pxe"})
		q.configure(func(q *quirkyBMC) { q.ignorePatch = true })
		pool, name := q.pool(t)
		change, err := pool.SetBootOverride(context.Background(), name, BootOverride{Target: BootTargetPxe, Once: true})
		require.ErrorIs(t, err, ErrBootOverrideIgnored)
		assert.ErrorIs(t, err, ErrBootOverrideUnsupported)
		var unsupported *BootOverrideUnsupportedError
		assert.False(t, errors.As(err, &unsupported))
		assert.Equal(t, "None/Disabled", change.After.String())

		// Nothing of bos's is in force: nothing to restore.
		_, restored, err := pool.RestoreBootOverride(context.Background(), name, change)
		require.NoError(t, err)
		assert.False(t, restored)
		assert.Len(t, q.requests(), 1, "only the first PATCH")
	})
	t.Run("a restore the BMC does not take is an error", func(t *testing.T) {
		q := newQuirkyBMC(t)
		q.withBoot([]string{"None", "Pxe"})
		pool, name := q.pool(t)
		change, err := pool.SetBootOverride(context.Background(), name, BootOverride{Target: BootTargetPxe})
		require.NoError(t, err)
		q.configure(func(q *quirkyBMC) { q.ignorePatch = true })
		change.Asked.Once = true // as if Once had been asked and stored as Continuous
		_, restored, err := pool.RestoreBootOverride(context.Background(), name, change)
		assert.False(t, restored)
		assert.ErrorContains(t, err, "restore boot override None/Disabled: the BMC reads back Pxe/Continuous")
	})
}

func TestEjectMediaOnlyWhatWasInserted(t *testing.T) {
	const other = "http://127.0.0.1:8080/images/someone-elses.iso"
	eject := "POST " + resourceKey(cd) + "/Actions/VirtualMedia.EjectMedia"
	tests := []struct {
		name        string
		image       any
		inserted    any
		wantEjected bool
	}{
		{name: "ours", image: isoURL, inserted: true, wantEjected: true},
		{name: "someone else's", image: other, inserted: true},
		{name: "empty", image: nil, inserted: false},
		{name: "ours, but not inserted", image: isoURL, inserted: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuirkyBMC(t)
			q.withManagerMedia(true, slot(cd, []string{"CD", "DVD"}, tt.image, tt.inserted))
			pool, name := q.pool(t)
			ejected, err := pool.EjectMedia(context.Background(), name, isoURL)
			require.NoError(t, err)
			assert.Equal(t, tt.wantEjected, ejected)
			var want []string
			if tt.wantEjected {
				want = []string{eject}
			}
			assert.Equal(t, want, q.requests())
		})
	}
}
