package sessionrun

import (
	"fmt"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/session"
)

// Given says which inputs a command line gives explicitly: those win over
// what a session ran with.
type Given struct {
	Inventory bool
	// Setting reports whether the setting of a config key was given.
	Setting func(key string) bool
}

// UseSessionInputs makes cfg what session rec ran with, for a command that
// resumes, retries or runs it in the background, from any directory and
// whatever its environment says: rec's inventory file and run settings
// (see config.Config.UseRunSettings), except what given says this command
// line gives. A record written before bos kept them leaves cfg as this
// invocation has it.
func UseSessionInputs(cfg *config.Config, rec *session.Record, given Given) error {
	if rec.Inventory != "" && !given.Inventory {
		cfg.Inventory = rec.Inventory
	}
	if rec.Settings == nil {
		return nil
	}
	setting := given.Setting
	if setting == nil {
		setting = func(string) bool { return false }
	}
	if err := cfg.UseRunSettings(rec.Settings, setting); err != nil {
		return fmt.Errorf("session %s: %w", rec.ID, err)
	}
	return nil
}
