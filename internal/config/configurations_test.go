package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadFile(t *testing.T, body string) (*Config, error) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	v := New()
	v.Set(KeyConfig, writeConfig(t, body))
	return Load(v)
}

func TestConfigurationsParse(t *testing.T) {
	c, err := loadFile(t, `
configure_wait: 10m
configure_batch_size: 25
configurations:
  cos-config-2.0.38:
    playbook: playbooks/site.yml
    connection: local
    ansible_host: "{name}-nmn"
    extra_vars:
      ntp: {servers: [10.0.0.1]}
      Debug: true
    extra_args: [--forks, "50"]
  Site:
    type: ansible
    playbook: /srv/ansible/site.yml
    inventory: hosts.ini
  report:
    type: command
    command: [./bin/configure-nodes, --verbose]
  from-path:
    type: command
    command: [configure-nodes]
`)
	require.NoError(t, err)
	dir := filepath.Dir(c.File)
	assert.Equal(t, 10*time.Minute, c.Engine.ConfigureWait)
	assert.Equal(t, 25, c.Engine.ConfigureBatchSize)
	require.Len(t, c.Configurations, 4)

	cos := c.Configurations["cos-config-2.0.38"]
	assert.Equal(t, ConfigurationAnsible, cos.Type, "ansible is the default type")
	assert.Equal(t, filepath.Join(dir, "playbooks/site.yml"), cos.Playbook, "relative to the config file")
	assert.Equal(t, "local", cos.Connection)
	assert.Equal(t, "{name}-nmn", cos.AnsibleHost)
	assert.Equal(t, map[string]any{"ntp": map[string]any{"servers": []any{"10.0.0.1"}}, "Debug": true}, cos.ExtraVars)
	assert.Equal(t, []string{"--forks", "50"}, cos.ExtraArgs)
	assert.Equal(t, c.File+":5:3", cos.Source)

	site := c.Configurations["Site"]
	assert.Equal(t, "Site", site.Name, "names keep their case")
	assert.Equal(t, "/srv/ansible/site.yml", site.Playbook)
	assert.Equal(t, filepath.Join(dir, "hosts.ini"), site.Inventory)

	assert.Equal(t, Configuration{Name: "report", Type: ConfigurationCommand,
		Command: []string{filepath.Join(dir, "bin/configure-nodes"), "--verbose"}, Source: c.File + ":17:3"},
		c.Configurations["report"])
	assert.Equal(t, []string{"configure-nodes"}, c.Configurations["from-path"].Command, "a bare program name is looked up in PATH")
}

func TestConfigureDefaults(t *testing.T) {
	c, err := loadFile(t, "output: table\n")
	require.NoError(t, err)
	assert.Equal(t, 1800*time.Second, c.Engine.ConfigureWait)
	assert.Equal(t, 100, c.Engine.ConfigureBatchSize)
	assert.Empty(t, c.Configurations)
}

func TestConfigurationsRejectBadInput(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown field", "configurations:\n  site:\n    playbok: site.yml\n",
			`:3:5: configurations.site.playbok: unknown field "playbok" (known fields: type, playbook,`},
		{"missing playbook", "configurations:\n  site:\n    connection: local\n",
			":2:3: configurations.site.playbook: missing: an ansible configuration needs playbook"},
		{"bad type", "configurations:\n  site: {type: salt, playbook: a.yml}\n",
			`:2:16: configurations.site.type: "salt" is not a configuration type`},
		{"extra_args not a list", "configurations:\n  site: {playbook: a.yml, extra_args: --check}\n",
			`configurations.site.extra_args: expected a list of strings, got string "--check"`},
		{"extra_vars not a mapping", "configurations:\n  site: {playbook: a.yml, extra_vars: [a]}\n",
			"configurations.site.extra_vars: expected a mapping of variable names to values, got a list"},
		{"extra_vars with a non-text key", "configurations:\n  site:\n    playbook: a.yml\n    extra_vars: {ports: {1: a}}\n",
			"configurations.site.extra_vars: variables must be plain values"},
		{"command without type", "configurations:\n  site: {command: [x]}\n",
			"configurations.site.command: only for type command (add type: command)"},
		{"playbook on a command", "configurations:\n  site: {type: command, command: [x], playbook: a.yml}\n",
			"configurations.site.playbook: only for type ansible"},
		{"command missing", "configurations:\n  site: {type: command}\n",
			"configurations.site.command: missing: a command configuration needs command"},
		{"bad connection", "configurations:\n  site: {playbook: a.yml, connection: 'ssh -p 22'}\n",
			`configurations.site.connection: "ssh -p 22" is not an Ansible connection plugin name`},
		{"not a mapping", "configurations:\n  site: site.yml\n",
			`configurations.site: expected a mapping such as {playbook: site.yml}`},
		{"section not a mapping", "configurations: [site]\n",
			":1:17: configurations must be a mapping (section) of named configurations, got a list"},
		{"bad batch size", "configure_batch_size: 0\n", "configure_batch_size: 0 is below the minimum 1"},
		{"bad wait", "configure_wait: forever\n", `configure_wait: "forever" is not a duration`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadFile(t, tc.body)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
