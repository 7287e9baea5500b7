package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/bos-project/bos/internal/yamlstrict"
)

// isYAMLFile says whether viper reads file as YAML, or as JSON, which
// YAML readers read too.
func isYAMLFile(file string) bool {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// readFile reads the config file into v and returns its configurations.
// A YAML (or JSON) file is first read as templates and inventories are,
// to tell each problem at file:line:col: its syntax, a key set twice, a
// key no setting has, a value of the wrong shape. Viper gives the line of
// the enclosing construct or none, and calls a section of the wrong type
// an unknown key. A file of only comments, or nothing, sets nothing.
func readFile(v *viper.Viper, file string) (map[string]Configuration, error) {
	v.SetConfigFile(file)
	if !isYAMLFile(file) {
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%w: config file %s: %v", ErrInvalid, file, err)
		}
		if v.IsSet(KeyConfigurations) {
			return nil, fmt.Errorf("%w: config file %s: configurations: only YAML or JSON config files can define configurations", ErrInvalid, file)
		}
		return nil, checkKeys(v, file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: config file %s: %v", ErrInvalid, file, err)
	}
	d := yamlstrict.NewDecoder(file, ErrInvalid)
	configurations := parseConfigurations(d, file, checkShape(d, d.ParseOptional(data)))
	if err := d.Err(); err != nil {
		return nil, err
	}
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("%w: config file %s: %v", ErrInvalid, file, err)
	}
	return configurations, nil
}

// checkShape reports each key of the file's top-level value root that no
// setting has, and each value not of its setting's shape. It returns the
// configurations section, for parseConfigurations.
func checkShape(d *yamlstrict.Decoder, root *yaml.Node) (configurations *yaml.Node) {
	if root == nil || yamlstrict.IsNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.Problemf(root, "", "a config file is a mapping of settings (key: value), got %s", yamlstrict.Describe(root))
		return nil
	}
	sections := fileSections()
	for _, f := range d.Fields(root, "", nil) {
		if children, ok := sections[strings.ToLower(f.Key)]; ok {
			if checkValue(d, f, "a mapping (section) of "+strings.Join(children, ", "), f.Value.Kind == yaml.MappingNode) {
				checkSection(d, f, children)
			}
			continue
		}
		s, ok := fileSetting(f.Key)
		switch {
		case !ok:
			d.Problemf(f.KeyAt, "", "unknown key %s; known keys: %s", f.Key, strings.Join(fileKeys(), ", "))
		case s.mapping:
			if checkValue(d, f, "a mapping (section) of "+s.Usage, f.Value.Kind == yaml.MappingNode) {
				configurations = f.Value
			}
		default:
			checkSetting(d, s, f)
		}
	}
	return configurations
}

// checkSection checks the keys of section f, a mapping, whose settings'
// keys are f.Key.CHILD for each of children.
func checkSection(d *yamlstrict.Decoder, f yamlstrict.Field, children []string) {
	for _, child := range d.Fields(f.Value, f.Key, nil) {
		if s, ok := fileSetting(child.Path); ok {
			checkSetting(d, s, child)
			continue
		}
		d.Problemf(child.KeyAt, "", "unknown key %s; known keys of %s: %s", child.Path, f.Key, strings.Join(children, ", "))
	}
}

// checkSetting checks that f, the value of s, is one value or, for a
// setting that takes a list, a list of them.
func checkSetting(d *yamlstrict.Decoder, s Setting, f yamlstrict.Field) {
	if s.Kind() != FlagList {
		checkValue(d, f, "a single value (text, number or true/false)", f.Value.Kind == yaml.ScalarNode)
		return
	}
	if !checkValue(d, f, "a value or a list of values", f.Value.Kind == yaml.ScalarNode || f.Value.Kind == yaml.SequenceNode) {
		return
	}
	for i, item := range f.Value.Content {
		checkValue(d, yamlstrict.Field{Value: item, Path: yamlstrict.Index(f.Path, i)}, "a single value", item.Kind == yaml.ScalarNode)
	}
}

// checkValue reports f's value unless it is ok or null (the setting's
// default), saying what it must be; it returns whether f holds a value of
// that shape.
func checkValue(d *yamlstrict.Decoder, f yamlstrict.Field, mustBe string, ok bool) bool {
	if ok || yamlstrict.IsNull(f.Value) {
		return ok
	}
	d.Problemf(f.Value, "", "%s must be %s, got %s", f.Path, mustBe, yamlstrict.Describe(f.Value))
	return false
}

// fileSetting is the setting of the config file's key, dotted within a
// section (boot.dir). Case does not matter, as it does not to viper.
func fileSetting(key string) (Setting, bool) {
	key = strings.ToLower(key)
	i := slices.IndexFunc(settings, func(s Setting) bool { return s.Key == key && !s.fileless })
	if i < 0 {
		return Setting{}, false
	}
	return settings[i], true
}

// fileKeys are the keys of the settings a config file may hold, sorted.
func fileKeys() []string {
	var keys []string
	for _, s := range settings {
		if !s.fileless {
			keys = append(keys, s.Key)
		}
	}
	slices.Sort(keys)
	return keys
}

// fileSections are the sections of the config file (boot, s3), each with
// the keys of its settings (dir, base_url), sorted.
func fileSections() map[string][]string {
	sections := map[string][]string{}
	for _, key := range fileKeys() {
		if section, child, nested := strings.Cut(key, "."); nested {
			sections[section] = append(sections[section], child)
		}
	}
	return sections
}
