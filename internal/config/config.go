// Package config loads bos's settings with viper: built-in defaults, then
// the config file, then BOS_* environment variables, then flags. Every key
// is a flat snake_case name so that the same word works in all four places
// (graceful_shutdown_timeout, BOS_GRACEFUL_SHUTDOWN_TIMEOUT,
// --graceful-shutdown-timeout).
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/bos-project/bos/internal/safetext"
)

// ErrInvalid marks a configuration problem the user must fix (exit code 2).
var ErrInvalid = errors.New("invalid configuration")

// Keys, in one place so flags, env and files agree.
const (
	KeyConfig            = "config"
	KeyStateDir          = "state_dir"
	KeyInventory         = "inventory"
	KeyTemplates         = "templates"
	KeyOutput            = "output"
	KeyQuiet             = "quiet"
	KeyVerbose           = "verbose"
	KeyNoColor           = "no_color"
	KeyProgress          = "progress"
	KeyRequireLimit      = "require_limit"
	KeyGracefulTimeout   = "graceful_shutdown_timeout"
	KeyForcefulTimeout   = "forceful_shutdown_timeout"
	KeyPowerOnWait       = "power_on_wait"
	KeyBootWait          = "boot_wait"
	KeyPollInterval      = "poll_interval"
	KeyPollBase          = "poll_base"
	KeyRetryPolicy       = "retry_policy"
	KeyMaxConcurrency    = "max_concurrency"
	KeyMaxRequestsPerBMC = "max_requests_per_bmc"
	KeyRequestTimeout    = "request_timeout"
	KeyRequestRetries    = "request_retries"
	KeyRetryBackoff      = "request_retry_backoff"
	KeyBootDir           = "boot.dir"
	KeyBootBaseURL       = "boot.base_url"
	// KeyS3Endpoint is the HTTP(S) URL s3://BUCKET/KEY paths of image
	// manifests and artifacts map to (<endpoint>/BUCKET/KEY).
	KeyS3Endpoint = "s3.endpoint"

	// The configure phase: how long one run may take, how many nodes it
	// gets, and the named configurations (a mapping read from the config
	// file only; see configurations.go).
	KeyConfigureWait      = "configure_wait"
	KeyConfigureBatchSize = "configure_batch_size"
	KeyConfigurations     = "configurations"

	// Power-on staggering against inrush: at most batch_size On requests
	// per batch_interval (0: no staggering).
	KeyBatchSize     = "batch_size"
	KeyBatchInterval = "batch_interval"
	// KeySessionRetention is how long `bos session prune` keeps sessions.
	KeySessionRetention = "session_retention"

	// A BootProgress that has not moved since the power-on this long after
	// it is not waited for: the node succeeds with a warning, or fails
	// when boot progress is required.
	KeyBootProgressGrace   = "boot_progress_grace"
	KeyRequireBootProgress = "require_boot_progress"
)

var defaults = map[string]any{
	KeyOutput:            "table",
	KeyGracefulTimeout:   "300s",
	KeyForcefulTimeout:   "180s",
	KeyPowerOnWait:       "120s",
	KeyBootWait:          "1200s",
	KeyPollInterval:      "5s",
	KeyPollBase:          "1s",
	KeyRetryPolicy:       3,
	KeyMaxConcurrency:    1000,
	KeyMaxRequestsPerBMC: 2,
	KeyRequestTimeout:    "20s",
	KeyRequestRetries:    3,
	KeyRetryBackoff:      "1s",
	KeyRequireLimit:      false,

	KeyConfigureWait:      "1800s",
	KeyConfigureBatchSize: 100,
	KeyBatchSize:          0,
	KeyBatchInterval:      "10s",
	KeySessionRetention:   "30d",

	KeyBootProgressGrace:   "180s",
	KeyRequireBootProgress: false,
}

// knownKeys are accepted in a config file; anything else is a typo worth
// reporting rather than silently ignoring.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range []string{KeyStateDir, KeyInventory, KeyTemplates, KeyOutput, KeyQuiet,
		KeyVerbose, KeyNoColor, KeyProgress, KeyRequireLimit, KeyGracefulTimeout,
		KeyForcefulTimeout, KeyPowerOnWait, KeyBootWait, KeyPollInterval, KeyPollBase,
		KeyRetryPolicy, KeyMaxConcurrency, KeyMaxRequestsPerBMC, KeyRequestTimeout,
		KeyRequestRetries, KeyRetryBackoff, KeyBootDir, KeyBootBaseURL, KeyS3Endpoint,
		KeyConfigureWait, KeyConfigureBatchSize, KeyBatchSize, KeyBatchInterval, KeySessionRetention,
		KeyBootProgressGrace, KeyRequireBootProgress} {
		m[k] = true
	}
	return m
}()

// Timeouts are the engine's waits; all adjustable without editing templates.
type Timeouts struct {
	GracefulShutdown time.Duration `json:"graceful_shutdown_timeout"`
	ForcefulShutdown time.Duration `json:"forceful_shutdown_timeout"`
	PowerOnWait      time.Duration `json:"power_on_wait"`
	BootWait         time.Duration `json:"boot_wait"`
	PollInterval     time.Duration `json:"poll_interval"`
	PollBase         time.Duration `json:"poll_base"`

	// ConfigureWait bounds one run of a configuration over a batch of nodes.
	ConfigureWait time.Duration `json:"configure_wait"`

	// BootProgressGrace: see KeyBootProgressGrace.
	BootProgressGrace time.Duration `json:"boot_progress_grace"`
}

// Config is the resolved configuration of one bos invocation.
type Config struct {
	File              string // the config file read, "" when none
	StateDir          string
	Inventory         string
	Templates         []string
	Output            string
	Quiet             bool
	Verbose           bool
	NoColor           bool
	Progress          bool
	RequireLimit      bool
	Timeouts          Timeouts
	RetryPolicy       int
	MaxConcurrency    int
	MaxRequestsPerBMC int
	RequestTimeout    time.Duration
	RequestRetries    int
	RetryBackoff      time.Duration
	BootDir           string
	BootBaseURL       string
	S3Endpoint        string

	// ConfigureBatchSize is how many nodes one run of a configuration gets.
	ConfigureBatchSize int
	// BatchSize and BatchInterval stagger power-on (0: no staggering).
	BatchSize     int
	BatchInterval time.Duration
	// SessionRetention is how long prune keeps finished sessions.
	SessionRetention time.Duration
	// Configurations are the named configurations templates select with
	// cfs.configuration.
	Configurations map[string]Configuration
	// RequireBootProgress fails a node whose BMC reports no boot progress
	// since its power-on, instead of warning (KeyBootProgressGrace).
	RequireBootProgress bool
}

// New returns a viper instance with bos's defaults and environment binding.
// Each invocation gets its own instance so commands can run side by side in
// tests.
func New() *viper.Viper {
	v := viper.New()
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix("BOS")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	return v
}

// Load reads the config file (when there is one) and resolves every setting.
func Load(v *viper.Viper) (*Config, error) {
	file, explicit := v.GetString(KeyConfig), true
	if file == "" {
		file, explicit = filepath.Join(configHome(), "bos", "config.yaml"), false
	}
	cfg := &Config{}
	if _, err := os.Stat(file); err == nil {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, readError(file, err)
		}
		cfg.File = file
		if err := checkKeys(v, file); err != nil {
			return nil, err
		}
		configurations, err := loadConfigurations(v, file)
		if err != nil {
			return nil, err
		}
		cfg.Configurations = configurations
	} else if explicit {
		return nil, fmt.Errorf("%w: config file %s: %v (check --config or BOS_CONFIG)", ErrInvalid, file, err)
	}

	cfg.StateDir = expand(v.GetString(KeyStateDir))
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(stateHome(), "bos")
	}
	cfg.Inventory = expand(v.GetString(KeyInventory))
	if cfg.Inventory == "" {
		cfg.Inventory = filepath.Join(filepath.Dir(file), "inventory.yaml")
	}
	cfg.Templates = templateDirs(v, file)
	cfg.Output = v.GetString(KeyOutput)
	cfg.Quiet = v.GetBool(KeyQuiet)
	cfg.Verbose = v.GetBool(KeyVerbose)
	cfg.NoColor = v.GetBool(KeyNoColor) || os.Getenv("NO_COLOR") != ""
	cfg.Progress = v.GetBool(KeyProgress)
	cfg.RequireLimit = v.GetBool(KeyRequireLimit)
	cfg.RequireBootProgress = v.GetBool(KeyRequireBootProgress)
	cfg.BootDir = expand(v.GetString(KeyBootDir))
	if cfg.BootDir == "" {
		cfg.BootDir = filepath.Join(cfg.StateDir, "boot")
	}
	cfg.BootBaseURL = v.GetString(KeyBootBaseURL)
	cfg.S3Endpoint = v.GetString(KeyS3Endpoint)

	var errs []error
	durations := []struct {
		key string
		dst *time.Duration
	}{
		{KeyGracefulTimeout, &cfg.Timeouts.GracefulShutdown},
		{KeyForcefulTimeout, &cfg.Timeouts.ForcefulShutdown},
		{KeyPowerOnWait, &cfg.Timeouts.PowerOnWait},
		{KeyBootWait, &cfg.Timeouts.BootWait},
		{KeyPollInterval, &cfg.Timeouts.PollInterval},
		{KeyPollBase, &cfg.Timeouts.PollBase},
		{KeyRequestTimeout, &cfg.RequestTimeout},
		{KeyRetryBackoff, &cfg.RetryBackoff},
		{KeyBatchInterval, &cfg.BatchInterval},
		{KeySessionRetention, &cfg.SessionRetention},
		{KeyConfigureWait, &cfg.Timeouts.ConfigureWait},
		{KeyBootProgressGrace, &cfg.Timeouts.BootProgressGrace},
	}
	for _, d := range durations {
		val, err := Duration(v.GetString(d.key))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.key, err))
		}
		*d.dst = val
	}
	ints := []struct {
		key string
		min int
		dst *int
	}{
		{KeyRetryPolicy, 1, &cfg.RetryPolicy},
		{KeyMaxConcurrency, 1, &cfg.MaxConcurrency},
		{KeyMaxRequestsPerBMC, 1, &cfg.MaxRequestsPerBMC},
		{KeyRequestRetries, 0, &cfg.RequestRetries},
		{KeyConfigureBatchSize, 1, &cfg.ConfigureBatchSize},
		{KeyBatchSize, 0, &cfg.BatchSize},
	}
	for _, i := range ints {
		n, err := strconv.Atoi(strings.TrimSpace(v.GetString(i.key)))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number", i.key, v.GetString(i.key)))
		case n < i.min:
			errs = append(errs, fmt.Errorf("%s: %d is below the minimum %d", i.key, n, i.min))
		}
		*i.dst = n
	}
	switch cfg.Output {
	case "table", "wide", "json", "yaml":
	default:
		errs = append(errs, fmt.Errorf("output: %q is not one of table, wide, json, yaml", cfg.Output))
	}
	// Both begin the artifact URLs written into every node's iPXE script.
	for _, u := range []struct{ key, value string }{{KeyBootBaseURL, cfg.BootBaseURL}, {KeyS3Endpoint, cfg.S3Endpoint}} {
		if u.value == "" {
			continue
		}
		if err := safetext.CheckIPXEWord(u.value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.key, err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return cfg, nil
}

// Duration parses a Go duration ("90s", "5m"), a number of days ("7d", for
// session ages) or a bare number of seconds, the unit BOS itself uses for
// its timeouts.
func Duration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64); err == nil && strings.HasSuffix(s, "d") && days >= 0 {
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		if secs < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (examples: 300, 300s, 5m, 1h30m, 7d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

func checkKeys(v *viper.Viper, file string) error {
	var unknown []string
	for _, k := range v.AllKeys() {
		if !knownKeys[k] && !isFlagOnly(k) && !isConfigurationKey(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	known := make([]string, 0, len(knownKeys))
	for k := range knownKeys {
		known = append(known, k)
	}
	sort.Strings(known)
	return fmt.Errorf("%w: config file %s: unknown key(s) %s; known keys: %s",
		ErrInvalid, file, strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// isFlagOnly covers keys viper learns from bound flags rather than the file.
func isFlagOnly(k string) bool { return k == KeyConfig }

func templateDirs(v *viper.Viper, file string) []string {
	var dirs []string
	raw := v.Get(KeyTemplates)
	switch t := raw.(type) {
	case string:
		dirs = filepath.SplitList(t)
	default:
		dirs = v.GetStringSlice(KeyTemplates)
	}
	if len(dirs) == 0 {
		dirs = []string{filepath.Join(filepath.Dir(file), "templates"), "templates"}
	}
	for i := range dirs {
		dirs[i] = expand(dirs[i])
	}
	return dirs
}

func expand(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return p
}

func configHome() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".config")
	}
	return "."
}

func stateHome() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state")
	}
	return "."
}
