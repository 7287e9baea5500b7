package template

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrNotFound is matched when --template names no file and no template;
// it also matches ErrInvalid (bad input).
var ErrNotFound = fmt.Errorf("%w: template not found", ErrInvalid)

var extensions = []string{".yaml", ".yml", ".json"}

// Find resolves --template to a file. A value containing a '/' or ending
// in .yaml/.yml/.json is a file path. Anything else is a template name,
// looked up in each dir in order, first as NAME.yaml, NAME.yml, NAME.json,
// then by the name: field of every template file in the dirs. Two files
// claiming the same name in that second step is an error naming both.
func Find(nameOrPath string, dirs []string) (string, error) {
	if nameOrPath == "" {
		return "", fmt.Errorf("%w: no template given", ErrInvalid)
	}
	if strings.Contains(nameOrPath, "/") || slices.Contains(extensions, filepath.Ext(nameOrPath)) {
		info, err := os.Stat(nameOrPath)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		if info.IsDir() {
			return "", fmt.Errorf("%w: %s is a directory, not a template file", ErrInvalid, nameOrPath)
		}
		return nameOrPath, nil
	}
	for _, dir := range dirs {
		for _, ext := range extensions {
			candidate := filepath.Join(dir, nameOrPath+ext)
			if info, err := os.Stat(candidate); err == nil && !info.IsDir() {
				return candidate, nil
			}
		}
	}
	var matches []string
	for _, dir := range dirs {
		found, err := filesNamed(dir, nameOrPath)
		if err != nil {
			return "", err
		}
		matches = append(matches, found...)
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("%w: no template named %q in %s (give a file path, or see `bos template list`)", ErrNotFound, nameOrPath, describeDirs(dirs))
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("%w: template name %q is claimed by several files: %s (rename one, or give the file path)", ErrInvalid, nameOrPath, strings.Join(matches, ", "))
}

func describeDirs(dirs []string) string {
	if len(dirs) == 0 {
		return "no template directories (set --templates or BOS_TEMPLATES)"
	}
	return strings.Join(dirs, ", ")
}

// filesNamed lists template files in dir whose name: field is name. Files
// that do not parse are skipped: they are reported when loaded by path or
// by `bos template validate`, and must not hide the other templates.
func filesNamed(dir, name string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find template %q: %w", name, err)
	}
	var matches []string
	for _, entry := range entries {
		if entry.IsDir() || !slices.Contains(extensions, filepath.Ext(entry.Name())) {
			continue
		}
		path := filepath.Join(dir, entry.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var header struct {
			Name string `yaml:"name"`
		}
		if yaml.Unmarshal(data, &header) == nil && header.Name == name {
			matches = append(matches, path)
		}
	}
	return matches, nil
}
