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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/exitcode"
)

// ErrInvalid marks a configuration problem the user must fix (exit code 2).
var ErrInvalid = exitcode.New(exitcode.Invalid, "invalid configuration")

// Keys, the names of the settings (settings.go declares each one).
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
	KeyEvents            = "events"
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

// Config is the resolved configuration of one bos invocation.
type Config struct {
	File         string // the config file read, "" when none
	StateDir     string
	Inventory    string
	Templates    []string
	Output       string
	Quiet        bool
	Verbose      bool
	NoColor      bool
	Progress     bool
	RequireLimit bool
	// Engine are a session's timings and bounds, every field set (those no
	// setting names at their defaults).
	Engine engine.Options
	// BMC are the Redfish driver's settings; its Log is the caller's to set.
	BMC         bmc.Options
	BootDir     string
	BootBaseURL string
	S3Endpoint  string
	// SessionRetention is how long prune keeps finished sessions.
	SessionRetention time.Duration
	// Configurations are the named configurations templates select with
	// cfs.configuration.
	Configurations map[string]Configuration
	// RunSettings are the settings that tune a session run whose value
	// differs from the default, by key, as given (see runsettings.go): a
	// session keeps them in its record.
	RunSettings map[string]string
}

// New returns a viper instance with bos's defaults and environment binding.
// Each invocation gets its own instance so commands can run side by side in
// tests.
func New() *viper.Viper {
	v := viper.New()
	for _, s := range settings {
		if s.Default != "" {
			v.SetDefault(s.Key, s.Default)
		}
	}
	v.SetEnvPrefix("BOS")
	v.SetEnvKeyReplacer(envKeys)
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
		configurations, err := readFile(v, file)
		if err != nil {
			return nil, err
		}
		cfg.File, cfg.Configurations = file, configurations
	} else if explicit {
		return nil, fmt.Errorf("%w: config file %s: %v (check --config or BOS_CONFIG)", ErrInvalid, file, err)
	}

	cfg.Engine, cfg.BMC = engine.DefaultOptions(), bmc.DefaultOptions()
	var errs []error
	l := loader{v: v, file: file}
	for _, s := range settings {
		err := s.field.load(l, s.Key, cfg)
		if value := v.GetString(s.Key); err == nil && len(s.Choices) > 0 && !slices.Contains(s.Choices, value) {
			err = fmt.Errorf("%q is not one of %s", value, strings.Join(s.Choices, ", "))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Key, err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	cfg.RunSettings = runSettings(v)
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

// checkKeys reports the keys of a config file that is not YAML, which
// viper alone reads (so without their lines), that no setting has.
func checkKeys(v *viper.Viper, file string) error {
	var problems, unknown []string
	sections := fileSections()
	for _, k := range v.AllKeys() {
		_, known := fileSetting(k)
		switch children, section := sections[k]; {
		case known || isFlagOnly(k) || isConfigurationKey(k):
		case section:
			problems = append(problems, fmt.Sprintf("%s must be a mapping (section) of %s", k, strings.Join(children, ", ")))
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		problems = append(problems, fmt.Sprintf("unknown key(s) %s; known keys: %s", strings.Join(unknown, ", "), strings.Join(fileKeys(), ", ")))
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("%w: config file %s: %s", ErrInvalid, file, strings.Join(problems, "; "))
}

// isFlagOnly covers keys viper learns from bound flags rather than the file.
func isFlagOnly(k string) bool {
	return slices.ContainsFunc(settings, func(s Setting) bool { return s.fileless && s.Key == k })
}

func templateDirs(v *viper.Viper, key, file string) []string {
	var dirs []string
	raw := v.Get(key)
	switch t := raw.(type) {
	case string:
		dirs = filepath.SplitList(t)
	default:
		dirs = v.GetStringSlice(key)
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
