package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bos-project/bos/internal/yamlstrict"
)

// Configuration types: how a named configuration is run.
const (
	ConfigurationAnsible = "ansible"
	ConfigurationCommand = "command"
)

// Configuration is one entry of `configurations:` in the config file: what
// the configure phase runs when a template names it in cfs.configuration.
type Configuration struct {
	Name string `json:"name"`
	// Type is ConfigurationAnsible (default) or ConfigurationCommand.
	Type string `json:"type"`

	// Playbook is the ansible-playbook file (absolute once loaded;
	// relative paths in the file are relative to the config file).
	Playbook string `json:"playbook,omitempty"`
	// Inventory, when set, is an Ansible inventory (file, directory or
	// script) to use instead of the session's nodes; the run is limited to
	// the session's nodes with --limit. Empty: bos writes an inventory of
	// the nodes for each run.
	Inventory string `json:"inventory,omitempty"`
	// Connection is the Ansible connection plugin (ssh, local, ...); empty
	// leaves Ansible's default (ssh).
	Connection string `json:"connection,omitempty"`
	// AnsibleHost is the address Ansible connects to, with {name} standing
	// for the node's name (e.g. "{name}-nmn"); empty means the node name.
	AnsibleHost string         `json:"ansible_host,omitempty"`
	ExtraVars   map[string]any `json:"extra_vars,omitempty"`
	ExtraArgs   []string       `json:"extra_args,omitempty"`

	// Command is the program and its arguments for type command.
	Command []string `json:"command,omitempty"`

	// Source is file:line:col where the configuration is defined.
	Source string `json:"-"`
}

var (
	configurationFields = []string{"type", "playbook", "inventory", "connection", "ansible_host", "extra_vars", "extra_args", "command"}
	ansibleOnlyFields   = map[string]bool{"playbook": true, "inventory": true, "connection": true, "ansible_host": true, "extra_vars": true, "extra_args": true}
	connectionPattern   = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
)

func isConfigurationKey(k string) bool {
	return k == KeyConfigurations || strings.HasPrefix(k, KeyConfigurations+".")
}

// parseConfigurations reads the configurations section of the config file
// straight from its YAML rather than through viper, because viper
// lower-cases keys and splits them on dots, and configuration names such
// as cos-config-2.0.38 keep both.
func parseConfigurations(d *yamlstrict.Decoder, file string, section *yaml.Node) map[string]Configuration {
	confs := map[string]Configuration{}
	baseDir := filepath.Dir(file)
	for _, entry := range d.Fields(section, KeyConfigurations, nil) {
		c := parseConfiguration(d, entry, baseDir)
		c.Source = fmt.Sprintf("%s:%d:%d", file, entry.KeyAt.Line, entry.KeyAt.Column)
		confs[c.Name] = c
	}
	return confs
}

func parseConfiguration(d *yamlstrict.Decoder, entry yamlstrict.Field, baseDir string) Configuration {
	c := Configuration{Name: entry.Key, Type: ConfigurationAnsible}
	if entry.Value.Kind != yaml.MappingNode {
		d.Problemf(entry.Value, entry.Path, "expected a mapping such as {playbook: site.yml} or {type: command, command: [...]}, got %s", yamlstrict.Describe(entry.Value))
		return c
	}
	fields := d.Fields(entry.Value, entry.Path, configurationFields)
	for _, f := range fields {
		if f.Key == "type" {
			c.Type = d.String(f.Value, f.Path)
			if c.Type != ConfigurationAnsible && c.Type != ConfigurationCommand {
				d.Problemf(f.Value, f.Path, "%q is not a configuration type: use ansible (the default) or command", c.Type)
			}
		}
	}
	for _, f := range fields {
		if c.Type == ConfigurationCommand && ansibleOnlyFields[f.Key] {
			d.Problemf(f.KeyAt, f.Path, "only for type ansible; a command configuration takes command: [program, args...]")
			continue
		}
		switch f.Key {
		case "playbook":
			c.Playbook = relativeTo(baseDir, d.String(f.Value, f.Path))
		case "inventory":
			c.Inventory = relativeTo(baseDir, d.String(f.Value, f.Path))
		case "connection":
			c.Connection = d.String(f.Value, f.Path)
			if !connectionPattern.MatchString(c.Connection) {
				d.Problemf(f.Value, f.Path, "%q is not an Ansible connection plugin name (examples: ssh, local, paramiko_ssh)", c.Connection)
			}
		case "ansible_host":
			c.AnsibleHost = d.String(f.Value, f.Path)
		case "extra_vars":
			c.ExtraVars = extraVars(d, f)
		case "extra_args":
			c.ExtraArgs = d.Strings(f.Value, f.Path)
		case "command":
			if c.Type != ConfigurationCommand {
				d.Problemf(f.KeyAt, f.Path, "only for type command (add type: command)")
				continue
			}
			c.Command = d.Strings(f.Value, f.Path)
		}
	}
	switch {
	case c.Type == ConfigurationAnsible && c.Playbook == "":
		d.Problemf(entry.KeyAt, yamlstrict.Join(entry.Path, "playbook"), "missing: an ansible configuration needs playbook: PATH (relative to the config file)")
	case c.Type == ConfigurationCommand && len(c.Command) == 0:
		d.Problemf(entry.KeyAt, yamlstrict.Join(entry.Path, "command"), "missing: a command configuration needs command: [program, args...]")
	case c.Type == ConfigurationCommand && strings.Contains(c.Command[0], "/"):
		c.Command[0] = relativeTo(baseDir, c.Command[0])
	}
	return c
}

// extraVars decodes any YAML mapping that Ansible can take as JSON extra
// variables.
func extraVars(d *yamlstrict.Decoder, f yamlstrict.Field) map[string]any {
	if f.Value.Kind != yaml.MappingNode {
		d.Problemf(f.Value, f.Path, "expected a mapping of variable names to values, got %s", yamlstrict.Describe(f.Value))
		return nil
	}
	var vars map[string]any
	if err := f.Value.Decode(&vars); err != nil {
		d.Problemf(f.Value, f.Path, "cannot read the variables: %v", err)
		return nil
	}
	if _, err := json.Marshal(vars); err != nil {
		d.Problemf(f.Value, f.Path, "variables must be plain values, lists and mappings with text keys: %v", err)
		return nil
	}
	return vars
}

func relativeTo(baseDir, path string) string {
	path = expand(path)
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(baseDir, path)
}
