package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/engine"
)

// SampleValue is a valid value of s that is not its default: "7" reads as
// 7 seconds, 7 of a count, a path, a URL's first word.
func SampleValue(s Setting) string {
	switch {
	case s.mapping:
		return "{site: {type: command, command: [configure-nodes]}}"
	case len(s.Choices) > 0:
		return s.Choices[len(s.Choices)-1]
	case s.Kind() == FlagSwitch:
		return "true"
	case s.Kind() == FlagList:
		return "/a" + string(os.PathListSeparator) + "/b"
	}
	return "7"
}

// noSettings is a config file that sets nothing.
const noSettings = "{}\n"

// fileLine is key: value as a config file writes it, a dotted key nested.
func fileLine(key, value string) string {
	parent, child, nested := strings.Cut(key, ".")
	if nested {
		return parent + ":\n  " + child + ": " + value + "\n"
	}
	return key + ": " + value + "\n"
}

func TestEverySettingHasAFlagOrAReason(t *testing.T) {
	seen := map[string]bool{}
	flags := map[string]bool{}
	for _, s := range Settings() {
		assert.False(t, seen[s.Key], "%s is declared twice", s.Key)
		seen[s.Key] = true
		assert.NotNil(t, s.field.load, s.Key)
		if s.Flag == "" {
			assert.NotEmpty(t, s.NoFlag, "%s has no flag: say why in NoFlag", s.Key)
			continue
		}
		assert.Empty(t, s.NoFlag, "%s has a flag", s.Key)
		assert.False(t, flags[s.Flag], "--%s sets two settings", s.Flag)
		flags[s.Flag] = true
		assert.NotEmpty(t, s.Usage, s.Key)
	}
}

// TestEveryFlagShowsItsDefault: the help of a setting's flag states its
// default, from the one place it is declared.
func TestEveryFlagShowsItsDefault(t *testing.T) {
	envInHelp := regexp.MustCompile(`BOS_[A-Z0-9_]+`)
	for _, s := range Settings() {
		if s.Flag == "" {
			continue
		}
		usage := s.FlagUsage()
		switch {
		case s.FlagDefault() != "":
			assert.Equal(t, s.Default, s.FlagDefault(), "%s: the flag's own default, which help shows", s.Key)
			assert.NotContains(t, usage, "(default", "%s: shown once", s.Key)
		case s.Kind() == FlagSwitch:
			assert.Empty(t, s.Default, "%s: a switch is off unless set", s.Key)
		case s.Default != "":
			assert.Contains(t, usage, "(default ", s.Key)
			assert.Contains(t, usage, s.Default, s.Key)
		default:
			assert.NotEmpty(t, s.DefaultHelp, "%s: say what the default is", s.Key)
			assert.Contains(t, usage, "(default "+s.DefaultHelp+")", s.Key)
		}
		for _, env := range envInHelp.FindAllString(usage, -1) {
			assert.Equal(t, s.Env(), env, "%s: the help names its own environment variable", s.Key)
		}
	}
}

// TestEverySettingIsReadFromEnvAndFile: each setting's environment
// variable and config file key set the same field, which its default
// does not (a mapping, which no variable holds: its key sets one).
func TestEverySettingIsReadFromEnvAndFile(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("NO_COLOR", "")
	load := func(t *testing.T, file, fileBody string) *Config {
		t.Helper()
		require.NoError(t, os.WriteFile(file, []byte(fileBody), 0o600))
		v := New()
		v.Set(KeyConfig, file)
		cfg, err := Load(v)
		require.NoError(t, err)
		return cfg
	}
	setBy := map[string]string{} // field of Config → the setting that set it
	for _, s := range Settings() {
		t.Run(s.Key, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "config.yaml")
			value := SampleValue(s)
			if s.fileless {
				require.NoError(t, os.WriteFile(file, []byte(noSettings), 0o600))
				t.Setenv(s.Env(), file)
				cfg, err := Load(New())
				require.NoError(t, err)
				assert.Equal(t, file, cfg.File, "the config file is found from %s", s.Env())
				return
			}
			byDefault := load(t, file, noSettings)
			fromFile := load(t, file, fileLine(s.Key, value))
			if s.mapping {
				assert.NotEmpty(t, changedFields(reflect.ValueOf(*byDefault), reflect.ValueOf(*fromFile), ""), "%s: %s changes nothing", s.Key, value)
				return
			}
			t.Setenv(s.Env(), value)
			fromEnv := load(t, file, noSettings)
			assert.Equal(t, fromEnv, fromFile, "%s and the file's %s set the same", s.Env(), s.Key)
			changed := changedFields(reflect.ValueOf(*byDefault), reflect.ValueOf(*fromEnv), "")
			assert.NotEmpty(t, changed, "%s=%s changes nothing", s.Env(), value)
			for _, field := range changed {
				if other, taken := setBy[field]; taken && !dependsOn(s.Key, other) {
					t.Errorf("%s sets %s, which %s sets too", s.Key, field, other)
				}
				setBy[field] = s.Key
			}
		})
	}
}

// dependsOn: key's default is worked out from other's value.
func dependsOn(key, other string) bool { return key == KeyBootDir && other == KeyStateDir }

// changedFields names the fields that differ between two values of one
// struct type, nested structs by path.
func changedFields(a, b reflect.Value, prefix string) []string {
	var changed []string
	for i := range a.NumField() {
		name := prefix + a.Type().Field(i).Name
		fa, fb := a.Field(i), b.Field(i)
		switch {
		case fa.Kind() == reflect.Struct && fa.Type() != reflect.TypeFor[time.Time]():
			changed = append(changed, changedFields(fa, fb, name+".")...)
		case fa.Kind() == reflect.Func:
		case fa.Kind() == reflect.Map && fa.Type().Key().Kind() == reflect.String:
			// Per key: RunSettings holds one per setting.
			for _, key := range append(fa.MapKeys(), fb.MapKeys()...) {
				va, vb := fa.MapIndex(key), fb.MapIndex(key)
				differs := va.IsValid() != vb.IsValid() || va.IsValid() && !reflect.DeepEqual(va.Interface(), vb.Interface())
				if field := name + "." + key.String(); differs && !slices.Contains(changed, field) {
					changed = append(changed, field)
				}
			}
		case !reflect.DeepEqual(fa.Interface(), fb.Interface()):
			changed = append(changed, name)
		}
	}
	return changed
}

// TestDefaultsAreTheEnginesAndTheDrivers: a configuration that sets
// nothing runs the engine and the BMC driver with their own defaults, the
// one place those are declared.
func TestDefaultsAreTheEnginesAndTheDrivers(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	cfg, err := Load(New())
	require.NoError(t, err)
	assert.Equal(t, engine.DefaultOptions(), cfg.Engine)
	assert.Equal(t, bmc.DefaultOptions(), cfg.BMC)
}

func TestSettingsLookups(t *testing.T) {
	assert.Equal(t, "BOS_BOOT_BASE_URL", MustSetting(KeyBootBaseURL).Env())
	assert.Equal(t, "BOS_GRACEFUL_SHUTDOWN_TIMEOUT", MustSetting(KeyGracefulTimeout).Env())
	assert.Panics(t, func() { MustSetting("gracefull_shutdown_timeout") })
	for _, scope := range []Scope{Global, SessionRun} {
		for _, s := range SettingsIn(scope) {
			assert.Equal(t, scope, s.Scope, s.Key)
			assert.NotEmpty(t, s.Flag, s.Key)
		}
	}
}
