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
	files, err := Files([]string{dir})
	if err != nil {
		return nil, fmt.Errorf("find template %q: %w", name, err)
	}
	var matches []string
	for _, file := range files {
		if header, err := ReadHeader(file); err == nil && header.Name == name {
			matches = append(matches, file)
		}
	}
	return matches, nil
}

// Files lists the template files (*.yaml, *.yml, *.json) of dirs in
// search order: dir by dir, each in file name order. A directory that does
// not exist is skipped: the default directories are several.
func Files(dirs []string) ([]string, error) {
	var files []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list templates in %s: %w", dir, err)
		}
		for _, e := range entries {
			if !e.IsDir() && slices.Contains(extensions, filepath.Ext(e.Name())) {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	return files, nil
}

// Header is what a template file says of itself, read without validating
// the file: enough to find it by name or offer it.
type Header struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// ReadHeader reads file's name: and description:; it fails when the file
// cannot be read or is not YAML (JSON is YAML).
func ReadHeader(file string) (Header, error) {
	var header Header
	data, err := os.ReadFile(file)
	if err != nil {
		return header, err
	}
	err = yaml.Unmarshal(data, &header)
	return header, err
}
