package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/safetext"
)

// Setting is one setting, declared once: its key in the config file, its
// environment variable, its flag, its default, what it means and the field
// of Config it fills. The command line declares flags from it and Load
// reads it, so they cannot disagree.
type Setting struct {
	// Key names it in the config file; Env derives its environment
	// variable from it.
	Key string
	// Flag is its command-line flag, Shorthand the flag's one-letter form;
	// NoFlag says why a setting has no flag.
	Flag, Shorthand, NoFlag string
	// Scope says which commands take the flag.
	Scope Scope
	// Default is the value when nothing sets it, as a user would write it;
	// "" when there is none or Load works it out (DefaultHelp says how).
	Default string
	// DefaultHelp is how the flag's help states the default, when not as
	// Default.
	DefaultHelp string
	// Usage is the flag's help without the default: FlagUsage adds it.
	Usage string
	// Choices are the only values it takes, if limited.
	Choices []string
	// fileless settings are not read from the config file (the config
	// file's own path).
	fileless bool
	// mapping settings are a section of entries the config file names
	// (configurations): only a YAML or JSON config file can hold one, not
	// an environment variable or a flag.
	mapping bool
	// field is where Load puts the setting's value, and how.
	field field
}

// Scope is which commands take a setting's flag.
type Scope int

const (
	// Chosen: the flag of the commands that ask for it by key.
	Chosen Scope = iota
	// Global: a flag of every command.
	Global
	// SessionRun: a flag of every command that runs a session.
	SessionRun
)

// FlagKind is the type of a setting's flag.
type FlagKind int

const (
	// FlagText takes a value; durations and counts are text too, so that
	// they are parsed (and refused) as they are in the config file.
	FlagText FlagKind = iota
	// FlagSwitch is on or off.
	FlagSwitch
	// FlagList takes a value, given more than once or comma-separated.
	FlagList
)

// envKeys turns a key into the rest of its environment variable's name.
var envKeys = strings.NewReplacer(".", "_", "-", "_")

// Env is the setting's environment variable: BOS_ and its key in upper
// case, '.' as '_'.
func (s Setting) Env() string { return "BOS_" + strings.ToUpper(envKeys.Replace(s.Key)) }

// Kind is the type of the setting's flag.
func (s Setting) Kind() FlagKind { return s.field.kind }

// FlagDefault is the flag's own default value, which help shows as cobra
// does: that of a setting with choices (as --pace's). Other flags default
// to nothing, their default being in their usage.
func (s Setting) FlagDefault() string {
	if len(s.Choices) > 0 {
		return s.Default
	}
	return ""
}

// FlagUsage is the flag's help: its usage and, where the flag itself does
// not show it, its default. A switch is off unless set, as every flag
// without a value is.
func (s Setting) FlagUsage() string {
	switch {
	case s.DefaultHelp != "":
		return s.Usage + " (default " + s.DefaultHelp + ")"
	case s.field.kind == FlagSwitch || s.Default == "" || s.FlagDefault() != "":
		return s.Usage
	}
	return s.Usage + " (default " + s.Default + ")"
}

// Settings returns every setting.
func Settings() []Setting { return slices.Clone(settings) }

// SettingsIn returns the settings whose flag every command of scope takes.
func SettingsIn(scope Scope) []Setting {
	var in []Setting
	for _, s := range settings {
		if s.Flag != "" && s.Scope == scope && scope != Chosen {
			in = append(in, s)
		}
	}
	return in
}

// MustSetting returns the setting of key, and panics when there is none:
// commands ask for settings by the Key constants when they are built.
func MustSetting(key string) Setting {
	i := slices.IndexFunc(settings, func(s Setting) bool { return s.Key == key })
	if i < 0 {
		panic(fmt.Sprintf("config: no setting %q", key))
	}
	return settings[i]
}

// engineDefaults and bmcDefaults are the defaults of the settings that
// tune the engine and the BMC driver: each package owns its own, which a
// zero field of its Options takes too.
var (
	engineDefaults = engine.DefaultOptions()
	bmcDefaults    = bmc.DefaultOptions()
)

// defaultRetention is how long prune keeps sessions unless told.
const defaultRetention = "30d"

// settings is the one table of settings. Load reads them in this order:
// a default worked out from another setting comes after it.
var settings = []Setting{
	{Key: KeyConfig, Flag: "config", Scope: Global, fileless: true,
		Usage: "config file", DefaultHelp: "$XDG_CONFIG_HOME/bos/config.yaml; env BOS_CONFIG",
		field: field{load: func(loader, string, *Config) error { return nil }}}, // Load reads it first, to find the file
	{Key: KeyStateDir, Flag: "state-dir", Scope: Global,
		Usage: "state directory", DefaultHelp: "$XDG_STATE_HOME/bos; env BOS_STATE_DIR",
		field: pathOf(func(c *Config) *string { return &c.StateDir },
			func(loader, *Config) string { return filepath.Join(stateHome(), "bos") })},
	{Key: KeyInventory, Flag: "inventory", Scope: Global,
		Usage: "inventory file", DefaultHelp: "inventory.yaml next to the config; env BOS_INVENTORY",
		field: pathOf(func(c *Config) *string { return &c.Inventory },
			func(l loader, _ *Config) string { return filepath.Join(filepath.Dir(l.file), "inventory.yaml") })},
	{Key: KeyTemplates, Flag: "templates", Scope: Global,
		Usage: "template directories", DefaultHelp: "templates/ next to the config, then ./templates; env BOS_TEMPLATES",
		field: field{kind: FlagList, load: func(l loader, key string, c *Config) error {
			c.Templates = templateDirs(l.v, key, l.file)
			return nil
		}}},
	{Key: KeyOutput, Flag: "output", Shorthand: "o", Scope: Global, Default: "table",
		Choices: []string{"table", "wide", "json", "yaml", "toml"},
		Usage:   "output format: table, wide, json, yaml or toml (also --format, as the Cray CLI)",
		field:   textOf(func(c *Config) *string { return &c.Output })},
	{Key: KeyQuiet, Flag: "quiet", Shorthand: "q", Scope: Global,
		Usage: "print only data: no progress, no warnings",
		field: switchOf(func(c *Config) *bool { return &c.Quiet })},
	{Key: KeyVerbose, Flag: "verbose", Shorthand: "v", Scope: Global,
		Usage: "log every BMC request on stderr (credentials are never shown)",
		field: switchOf(func(c *Config) *bool { return &c.Verbose })},
	{Key: KeyNoColor, Flag: "no-color", Scope: Global,
		Usage: "never colour output (also NO_COLOR)",
		field: field{kind: FlagSwitch, load: func(l loader, key string, c *Config) error {
			c.NoColor = l.v.GetBool(key) || os.Getenv("NO_COLOR") != ""
			return nil
		}}},
	{Key: KeyProgress, Flag: "progress", Scope: Global,
		Usage: "show progress on stderr even when it is not a terminal",
		field: switchOf(func(c *Config) *bool { return &c.Progress })},
	{Key: KeyRequireLimit, NoFlag: "a site's policy (BOS v2's session_limit_required): a flag would let any run opt out",
		field: switchOf(func(c *Config) *bool { return &c.RequireLimit })},

	{Key: KeyGracefulTimeout, Flag: "graceful-shutdown-timeout", Scope: SessionRun,
		Default: seconds(engineDefaults.GracefulShutdownTimeout),
		Usage:   "wait for a graceful shutdown before forcing power off",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.GracefulShutdownTimeout })},
	{Key: KeyForcefulTimeout, Flag: "forceful-shutdown-timeout", Scope: SessionRun,
		Default: seconds(engineDefaults.ForcefulShutdownTimeout),
		Usage:   "wait for a forced power off",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.ForcefulShutdownTimeout })},
	{Key: KeyPowerOnWait, Flag: "power-on-wait", Scope: SessionRun,
		Default: seconds(engineDefaults.PowerOnWait),
		Usage:   "wait for power On after each power-on request",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.PowerOnWait })},
	{Key: KeyBootWait, Flag: "boot-wait", Scope: SessionRun,
		Default: seconds(engineDefaults.BootWait),
		Usage:   "wait for the OS to be running after power on",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.BootWait })},
	{Key: KeyBootProgressGrace, Flag: "boot-progress-grace", Scope: SessionRun,
		Default: seconds(engineDefaults.BootProgressGrace),
		Usage:   "after power on, wait this long for the BMC's boot progress to move; then take the node as booted, with a warning",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.BootProgressGrace })},
	{Key: KeyRequireBootProgress, Flag: "require-boot-progress", Scope: SessionRun,
		Usage: "fail nodes whose BMC reports no boot progress after power on, instead of warning",
		field: switchOf(func(c *Config) *bool { return &c.Engine.RequireBootProgress })},
	{Key: KeyPollBase, Flag: "poll-base", Scope: SessionRun,
		Default: seconds(engineDefaults.PollBase),
		Usage:   "first pause between power-state polls; the back-off grows 1,1,1,1,2,2,4… times it",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.PollBase })},
	{Key: KeyPollInterval, Flag: "poll-interval", Scope: SessionRun,
		Default: seconds(engineDefaults.PollInterval),
		Usage:   "longest pause between power-state polls: the back-off's cap",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.PollInterval })},
	{Key: KeyRetryPolicy, Flag: "retry-policy", Scope: SessionRun,
		Default: strconv.Itoa(engineDefaults.RetryPolicy),
		Usage:   "power-on attempts per node",
		field:   countOf(1, func(c *Config) *int { return &c.Engine.RetryPolicy })},
	{Key: KeyMaxConcurrency, Flag: "max-concurrency", Scope: SessionRun,
		Default: strconv.Itoa(engineDefaults.MaxConcurrency),
		Usage:   "BMC requests in flight at once across all BMCs; nodes waiting between polls hold none",
		field:   countOf(1, func(c *Config) *int { return &c.Engine.MaxConcurrency })},
	{Key: KeyMaxRequestsPerBMC, Flag: "max-requests-per-bmc", Scope: SessionRun,
		Default: strconv.Itoa(bmcDefaults.MaxRequestsPerBMC),
		Usage:   "requests in flight per BMC",
		field:   countOf(1, func(c *Config) *int { return &c.BMC.MaxRequestsPerBMC })},
	{Key: KeyBatchSize, Flag: "batch-size", Scope: SessionRun,
		Default: strconv.Itoa(engineDefaults.BatchSize), DefaultHelp: strconv.Itoa(engineDefaults.BatchSize) + ": all at once",
		Usage: "power on at most this many nodes per --batch-interval, against inrush",
		field: countOf(0, func(c *Config) *int { return &c.Engine.BatchSize })},
	{Key: KeyBatchInterval, Flag: "batch-interval", Scope: SessionRun,
		Default: seconds(engineDefaults.BatchInterval),
		Usage:   "the interval of --batch-size",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.BatchInterval })},
	{Key: KeyConfigureWait, Flag: "configure-wait", Scope: SessionRun,
		Default: seconds(engineDefaults.ConfigureWait),
		Usage:   "longest run of a configuration over one batch of nodes",
		field:   durationOf(func(c *Config) *time.Duration { return &c.Engine.ConfigureWait })},
	{Key: KeyConfigureBatchSize, Flag: "configure-batch-size", Scope: SessionRun,
		Default: strconv.Itoa(engineDefaults.ConfigureBatchSize),
		Usage:   "nodes per run of a configuration",
		field:   countOf(1, func(c *Config) *int { return &c.Engine.ConfigureBatchSize })},
	{Key: KeyConfigurations, NoFlag: "a mapping of named configurations, which only the config file can hold", mapping: true,
		Usage: "named configurations",
		field: field{load: func(loader, string, *Config) error { return nil }}}, // read with the config file, positions kept (configurations.go)

	// A BMC that does not answer costs a node request_timeout ×
	// (request_retries + 1) per request: a run against hung BMCs needs
	// both at hand, not only in the config file.
	{Key: KeyRequestTimeout, Flag: "request-timeout", Scope: SessionRun,
		Default: seconds(bmcDefaults.RequestTimeout),
		Usage:   "give up on a BMC request after this long",
		field:   durationOf(func(c *Config) *time.Duration { return &c.BMC.RequestTimeout })},
	{Key: KeyEvents, Flag: "events", Scope: SessionRun, Default: "auto",
		Choices: []string{"auto", "off"},
		Usage:   "BMC events (Redfish Server-Sent Events): auto waits on them where a BMC offers them; off polls every BMC",
		field: field{load: func(l loader, key string, c *Config) error {
			c.BMC.DisableEvents = l.v.GetString(key) == "off"
			return nil
		}}},
	{Key: KeyRequestRetries, Flag: "request-retries", Scope: SessionRun,
		Default: strconv.Itoa(bmcDefaults.Retries),
		Usage:   "send a BMC request again this many times after no answer, a connection error, a 5xx or a 409",
		field: field{load: func(l loader, key string, c *Config) error {
			n, err := l.count(key, 0)
			c.BMC.Retries = n
			if n == 0 {
				c.BMC.Retries = -1 // the driver reads 0 as "the default"; the setting means none
			}
			return err
		}}},
	{Key: KeyRetryBackoff, NoFlag: "how the Redfish driver copes with a site's BMCs: set once in the config file, not per run",
		Default: seconds(bmcDefaults.RetryBackoff),
		field:   durationOf(func(c *Config) *time.Duration { return &c.BMC.RetryBackoff })},
	{Key: KeyBootDir, NoFlag: "where the site's HTTP server serves boot files from: the same for every run",
		DefaultHelp: "boot under the state directory",
		field: pathOf(func(c *Config) *string { return &c.BootDir },
			func(_ loader, c *Config) string { return filepath.Join(c.StateDir, "boot") })},
	{Key: KeyBootBaseURL, NoFlag: "the URL of the site's HTTP server for boot files: the same for every run",
		field: ipxeWordOf(func(c *Config) *string { return &c.BootBaseURL })},
	{Key: KeyS3Endpoint, NoFlag: "the site's object store: the same for every run",
		field: ipxeWordOf(func(c *Config) *string { return &c.S3Endpoint })},
	{Key: KeySessionRetention, Flag: "older-than",
		Default: defaultRetention, DefaultHelp: "session_retention from the config: " + defaultRetention,
		Usage: "keep sessions younger than this",
		field: durationOf(func(c *Config) *time.Duration { return &c.SessionRetention })},
}

// loader reads settings from a viper instance whose config file is file.
type loader struct {
	v    *viper.Viper
	file string
}

// field is where a setting's value goes in a Config: load reads setting
// key into it; kind is the flag that sets it.
type field struct {
	kind FlagKind
	load func(l loader, key string, c *Config) error
}

// count reads key as a whole number of at least min.
func (l loader) count(key string, min int) (int, error) {
	raw := l.v.GetString(key)
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return n, fmt.Errorf("%q is not a whole number", raw)
	case n < min:
		return n, fmt.Errorf("%d is below the minimum %d", n, min)
	}
	return n, nil
}

// durationOf is a duration (see Duration).
func durationOf(target func(*Config) *time.Duration) field {
	return field{load: func(l loader, key string, c *Config) error {
		d, err := Duration(l.v.GetString(key))
		*target(c) = d
		return err
	}}
}

// countOf is a whole number of at least min.
func countOf(min int, target func(*Config) *int) field {
	return field{load: func(l loader, key string, c *Config) error {
		n, err := l.count(key, min)
		*target(c) = n
		return err
	}}
}

func switchOf(target func(*Config) *bool) field {
	return field{kind: FlagSwitch, load: func(l loader, key string, c *Config) error {
		*target(c) = l.v.GetBool(key)
		return nil
	}}
}

func textOf(target func(*Config) *string) field {
	return field{load: func(l loader, key string, c *Config) error {
		*target(c) = l.v.GetString(key)
		return nil
	}}
}

// pathOf is a path, "~/" being the home directory; fallback is the path
// when none is set.
func pathOf(target func(*Config) *string, fallback func(loader, *Config) string) field {
	return field{load: func(l loader, key string, c *Config) error {
		path := expand(l.v.GetString(key))
		if path == "" {
			path = fallback(l, c)
		}
		*target(c) = path
		return nil
	}}
}

// ipxeWordOf is text that begins the URLs written into every node's iPXE
// script: it must be one word of it.
func ipxeWordOf(target func(*Config) *string) field {
	return field{load: func(l loader, key string, c *Config) error {
		value := l.v.GetString(key)
		*target(c) = value
		if value == "" {
			return nil
		}
		return safetext.CheckIPXEWord(value)
	}}
}

// seconds is a duration as BOS writes its timeouts: "300s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
