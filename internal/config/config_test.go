package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func TestLoadPrecedence(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", "/var/tmp/xdg-state")
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, 300*time.Second, c.Engine.GracefulShutdownTimeout)
				assert.Equal(t, 180*time.Second, c.Engine.ForcefulShutdownTimeout)
				assert.Equal(t, 120*time.Second, c.Engine.PowerOnWait)
				assert.Equal(t, 1200*time.Second, c.Engine.BootWait)
				assert.Equal(t, 180*time.Second, c.Engine.BootProgressGrace)
				assert.False(t, c.Engine.RequireBootProgress)
				assert.Equal(t, 5*time.Second, c.Engine.PollInterval)
				assert.Equal(t, 3, c.Engine.RetryPolicy)
				assert.Equal(t, 1000, c.Engine.MaxConcurrency)
				assert.Equal(t, 2, c.BMC.MaxRequestsPerBMC)
				assert.Equal(t, "/var/tmp/xdg-state/bos", c.StateDir)
				assert.Equal(t, "/var/tmp/xdg-state/bos/boot", c.BootDir)
				assert.Equal(t, "table", c.Output)
				assert.Empty(t, c.File)
			},
		},
		{
			name: "file then env",
			file: "graceful_shutdown_timeout: 90\npower_on_wait: 2m\nstate_dir: /srv/bos\nretry_policy: 5\nboot:\n  base_url: http://10.0.0.1/boot\ns3:\n  endpoint: https://rgw.example.com\n",
			env:  map[string]string{"BOS_RETRY_POLICY": "7", "BOS_TEMPLATES": "/a:/b"},
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, 90*time.Second, c.Engine.GracefulShutdownTimeout)
				assert.Equal(t, 2*time.Minute, c.Engine.PowerOnWait)
				assert.Equal(t, "/srv/bos", c.StateDir)
				assert.Equal(t, 7, c.Engine.RetryPolicy, "env beats file")
				assert.Equal(t, []string{"/a", "/b"}, c.Templates)
				assert.Equal(t, "http://10.0.0.1/boot", c.BootBaseURL)
				assert.Equal(t, "https://rgw.example.com", c.S3Endpoint)
				assert.NotEmpty(t, c.File)
				assert.Equal(t, filepath.Join(filepath.Dir(c.File), "inventory.yaml"), c.Inventory)
			},
		},
		{
			name: "keys in any case, as viper reads them",
			file: "State_Dir: /srv/bos\nBOOT:\n  Base_URL: http://10.0.0.1/boot\n",
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, "/srv/bos", c.StateDir)
				assert.Equal(t, "http://10.0.0.1/boot", c.BootBaseURL)
			},
		},
		{
			name: "boot progress: file then env",
			file: "boot_progress_grace: 5m\nrequire_boot_progress: true\n",
			env:  map[string]string{"BOS_BOOT_PROGRESS_GRACE": "90"},
			check: func(t *testing.T, c *Config) {
				assert.Equal(t, 90*time.Second, c.Engine.BootProgressGrace, "env beats file")
				assert.True(t, c.Engine.RequireBootProgress)
			},
		},
		{
			name: "boot progress required by env",
			env:  map[string]string{"BOS_REQUIRE_BOOT_PROGRESS": "true"},
			check: func(t *testing.T, c *Config) {
				assert.True(t, c.Engine.RequireBootProgress)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			v := New()
			if tc.file != "" {
				v.Set(KeyConfig, writeConfig(t, tc.file))
			}
			c, err := Load(v)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	tests := []struct {
		name, file, env, envVal, want string
	}{
		{name: "unknown key", file: "output: json\ngracefull_shutdown_timeout: 3\n", want: "config.yaml:2:1: unknown key gracefull_shutdown_timeout; known keys: batch_interval,"},
		{name: "unknown key in a section", file: "boot:\n  dir: /srv\n  bogus: 1\n", want: "config.yaml:3:3: unknown key boot.bogus; known keys of boot: base_url, dir"},
		{name: "section not a mapping", file: "boot: 5\n", want: "config.yaml:1:7: boot must be a mapping (section) of base_url, dir, got number 5"},
		{name: "section a list", file: "s3: [a]\n", want: "config.yaml:1:5: s3 must be a mapping (section) of endpoint, got a list"},
		{name: "value a mapping", file: "state_dir: {a: 1}\n", want: "config.yaml:1:12: state_dir must be a single value (text, number or true/false), got a mapping"},
		{name: "value in a section a list", file: "boot: {dir: [1]}\n", want: "config.yaml:1:13: boot.dir must be a single value (text, number or true/false), got a list"},
		{name: "list a mapping", file: "templates: {a: 1}\n", want: "config.yaml:1:12: templates must be a value or a list of values, got a mapping"},
		{name: "list of lists", file: "templates: [/a, [b]]\n", want: "config.yaml:1:17: templates[1] must be a single value, got a list"},
		{name: "not a mapping", file: "- state_dir: /srv\n", want: "config.yaml:1:1: a config file is a mapping of settings (key: value), got a list"},
		{name: "a number", file: "5\n", want: "config.yaml:1:1: a config file is a mapping of settings (key: value), got number 5"},
		{name: "the config file's own key", file: "config: other.yaml\n", want: "config.yaml:1:1: unknown key config;"},
		{name: "bad duration", file: "boot_wait: soon\n", want: `boot_wait: "soon" is not a duration`},
		{name: "negative", file: "poll_interval: -1\n", want: `poll_interval: "-1" is negative`},
		{name: "bad int from env", env: "BOS_MAX_CONCURRENCY", envVal: "lots", want: `max_concurrency: "lots" is not a whole number`},
		{name: "zero retries", file: "retry_policy: 0\n", want: "retry_policy: 0 is below the minimum 1"},
		{name: "bad output", env: "BOS_OUTPUT", envVal: "xml", want: `output: "xml" is not one of`},
		{name: "broken yaml", file: "a: [\n", want: "config.yaml:2:1: YAML syntax: did not find expected node content"},
		{name: "line feed in boot.base_url", file: "boot:\n  base_url: \"http://10.1.0.1/boot\\nshell\"\n",
			want: "boot.base_url: control character U+000A (line feed) at byte 21"},
		{name: "blank in s3.endpoint", env: "BOS_S3_ENDPOINT", envVal: "https://rgw || shell", want: "s3.endpoint: \"||\" would end the iPXE command"},
		{name: "tab in s3.endpoint", env: "BOS_S3_ENDPOINT", envVal: "https://rgw\t", want: "s3.endpoint: control character U+0009 (tab)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, tc.envVal)
			}
			v := New()
			if tc.file != "" {
				v.Set(KeyConfig, writeConfig(t, tc.file))
			}
			_, err := Load(v)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestExplicitMissingConfigIsAnError(t *testing.T) {
	v := New()
	v.Set(KeyConfig, filepath.Join(t.TempDir(), "nope.yaml"))
	_, err := Load(v)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "nope.yaml")
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"300", 300 * time.Second, false},
		{"1.5", 1500 * time.Millisecond, false},
		{"5m", 5 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{" 2h ", 2 * time.Hour, false},
		{"-1d", 0, true},
		{"d", 0, true},
		{"soon", 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		got, err := Duration(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// TestLoadFileThatSetsNothing: a config file of only comments, or nothing
// at all, is valid, as it is to every YAML reader: every setting keeps its
// default.
func TestLoadFileThatSetsNothing(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	defaults, err := Load(New())
	require.NoError(t, err)
	for name, body := range map[string]string{
		"empty":             "",
		"comments":          "# bos settings, none yet\n# state_dir: /var/lib/bos\n",
		"blank lines":       "\n  \n",
		"a document marker": "---\n# nothing\n",
		"null":              "~\n",
		"empty mapping":     noSettings,
		"empty section":     "boot:\nconfigurations:\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := writeConfig(t, body)
			v := New()
			v.Set(KeyConfig, file)
			c, err := Load(v)
			require.NoError(t, err)
			assert.Equal(t, file, c.File)
			assert.Equal(t, defaults.Engine, c.Engine)
			assert.Equal(t, defaults.StateDir, c.StateDir)
			assert.Empty(t, c.Configurations)
		})
	}
}

// TestUnknownKeyNamesEveryKey: the known keys a typo is told are those of
// the settings table, so that none can be left out.
func TestUnknownKeyNamesEveryKey(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, name := range []string{"config.yaml", "config.toml"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), name)
			body := map[string]string{".yaml": "bogus: 1\n", ".toml": "bogus = 1\n"}[filepath.Ext(name)]
			require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
			v := New()
			v.Set(KeyConfig, file)
			_, err := Load(v)
			require.ErrorIs(t, err, ErrInvalid)
			_, known, found := strings.Cut(err.Error(), "known keys: ")
			require.True(t, found, err.Error())
			assert.Contains(t, strings.Split(known, ", "), KeyConfigurations)
			for _, s := range Settings() {
				if s.Key == KeyConfig {
					assert.NotContains(t, strings.Split(known, ", "), s.Key, "the config file does not name itself")
					continue
				}
				assert.Contains(t, strings.Split(known, ", "), s.Key)
			}
		})
	}
}

// TestTOMLSectionOfWrongType: a config file viper alone reads has its
// sections checked too.
func TestTOMLSectionOfWrongType(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	file := filepath.Join(t.TempDir(), "config.toml")
	require.NoError(t, os.WriteFile(file, []byte("boot = 5\nstate_dir = \"/srv\"\n"), 0o600))
	v := New()
	v.Set(KeyConfig, file)
	_, err := Load(v)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "config.toml: boot must be a mapping (section) of base_url, dir")
	assert.NotContains(t, err.Error(), "unknown key")
}
