package sessionrun

import (
	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/bootimage"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/session"
)

// NewRunner returns a Runner on the real clock and real BMCs (driven with
// bmcOpts) that runs sessions of inv's nodes, recorded in store, as the
// configuration's settings say: the engine's timings and bounds, where
// boot files go and the named configurations.
func NewRunner(cfg *config.Config, store *session.Store, inv *inventory.Inventory, bmcOpts bmc.Options) *Runner {
	return &Runner{
		Store:     store,
		Inventory: inv,
		Engine:    cfg.Engine,
		Settings:  cfg.RunSettings,
		Clock:     engine.RealClock(),
		ConnectBMC: func(nodes []inventory.Node) BMCPool {
			return bmc.NewPool(nodes, bmcOpts)
		},
		Boot:           bootimage.PreparerConfig{BootDir: cfg.BootDir, BaseURL: cfg.BootBaseURL, S3Endpoint: cfg.S3Endpoint},
		Configurations: cfg.Configurations,
	}
}
