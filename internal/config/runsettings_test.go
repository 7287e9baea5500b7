package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/engine"
)

// TestRunSettingsKeepWhatDiffersFromTheDefaults: a session records the run
// settings that differ from their defaults, as given, whatever set them.
func TestRunSettingsKeepWhatDiffersFromTheDefaults(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	cfg, err := Load(New())
	require.NoError(t, err)
	assert.Equal(t, map[string]string{}, cfg.RunSettings, "nothing set: nothing kept")

	t.Setenv("BOS_BOOT_WAIT", "10m")
	t.Setenv("BOS_RETRY_POLICY", "03")              // the default, written otherwise
	t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "5m") // the default 300s, written otherwise
	t.Setenv("BOS_REQUIRE_BOOT_PROGRESS", "true")
	t.Setenv("BOS_REQUEST_TIMEOUT", "90s")
	t.Setenv("BOS_REQUEST_RETRY_BACKOFF", "5s") // not a setting of the run's flags
	cfg, err = Load(New())
	require.NoError(t, err)
	assert.Equal(t, map[string]string{KeyBootWait: "10m", KeyRequireBootProgress: "true", KeyRequestTimeout: "90s"}, cfg.RunSettings)
}

// TestUseRunSettings: a resume or retry runs with the settings its session
// kept, the others at their defaults whatever this invocation's
// environment says, except the ones its command line gives.
func TestUseRunSettings(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("BOS_POWER_ON_WAIT", "5")  // the session ran with the default
	t.Setenv("BOS_RETRY_POLICY", "1")   // given on the command line, say
	t.Setenv("BOS_POLL_INTERVAL", "20") // neither: back to the default
	cfg, err := Load(New())
	require.NoError(t, err)
	given := func(key string) bool { return key == KeyRetryPolicy }
	kept := map[string]string{KeyBootWait: "600", KeyRequireBootProgress: "true", KeyRequestTimeout: "5s", KeyRequestRetries: "0"}
	require.NoError(t, cfg.UseRunSettings(kept, given))

	want := engine.DefaultOptions()
	want.BootWait, want.RequireBootProgress, want.RetryPolicy = 600*time.Second, true, 1
	assert.Equal(t, want, cfg.Engine)
	assert.Equal(t, 5*time.Second, cfg.BMC.RequestTimeout)
	assert.Equal(t, -1, cfg.BMC.Retries, "request_retries 0: no retry, not the driver's default")
	kept[KeyRetryPolicy] = "1"
	assert.Equal(t, kept, cfg.RunSettings)

	err = cfg.UseRunSettings(map[string]string{"boot_waits": "600"}, given)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, `"boot_waits"`)
	err = cfg.UseRunSettings(map[string]string{KeyBootWait: "soon"}, given)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "boot_wait")
}
