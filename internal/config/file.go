package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// readError explains why viper could not read the config file. Viper's
// YAML errors give the line of the enclosing construct, or none, so a YAML
// file's syntax is checked as a template's or an inventory's is, to say
// file:line:col where the problem is.
func readError(file string, err error) error {
	if isYAMLFile(file) {
		if data, readErr := os.ReadFile(file); readErr == nil {
			if syntaxErr := yamlstrict.CheckSyntax(file, data, ErrInvalid); syntaxErr != nil {
				return syntaxErr
			}
		}
	}
	return fmt.Errorf("%w: config file %s: %v", ErrInvalid, file, err)
}
